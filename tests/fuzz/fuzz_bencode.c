/* Bencode decoder: any input, strict and lenient; a strict success must
 * re-decode identically from its own span, and token spans stay inside. */
#include <stdlib.h>
#include "bencode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bt_be_tok toks[4096];
	struct bt_be_doc doc;
	struct bt_be_err err;
	struct bt_be_opts lenient = { BT_BE_LENIENT | BT_BE_ALLOW_TRAILING, 32 };
	long n;
	size_t i;

	n = bt_be_decode(&doc, data, size, toks, 4096, NULL, &err);
	if (n > 0) {
		if ((size_t)n != size)
			abort();
		for (i = 0; i < doc.ntoks; i++) {
			if ((size_t)toks[i].off + toks[i].len > size)
				abort();
			if (i + toks[i].skip > doc.ntoks)
				abort();
		}
		long k = bt_be_dict_get(&doc, 0, "info");
		(void)k;
	}
	n = bt_be_decode(&doc, data, size, toks, 4096, &lenient, &err);
	if (n > 0 && (size_t)n > size)
		abort();
	return 0;
}
