/* bt_msg_parse on any bytes, two ways: the input as it is (almost always
 * a wrong length prefix), and the input framed with its own length, so
 * the fuzzer explores every id and payload size.
 *
 * Properties: BT_NEED_MORE / BT_EINVAL exactly as the prefix decides;
 * every view lies inside the message; a BT_OK message of a known kind
 * re-encodes with the wire.h encoders to the very same bytes (decode and
 * encode are inverse); a malformed one names its rule and expected size. */
#include "fuzz.h"
#include "wire.h"

static void reencode(const uint8_t *msg, size_t len, const struct bt_msg *m)
{
	uint8_t *out = malloc(len);
	struct bt_wr w;
	int rc;

	if (!out)
		abort();
	bt_wr_init(&w, out, len);
	switch (m->kind) {
	case BT_MSG_KEEPALIVE:
		rc = bt_msg_put_keepalive(&w);
		break;
	case BT_MSG_CHOKE: case BT_MSG_UNCHOKE: case BT_MSG_INTERESTED:
	case BT_MSG_NOT_INTERESTED: case BT_MSG_HAVE_ALL: case BT_MSG_HAVE_NONE:
		rc = bt_msg_put_simple(&w, (uint8_t)m->id);
		break;
	case BT_MSG_HAVE:
		rc = bt_msg_put_have(&w, m->u.index);
		break;
	case BT_MSG_SUGGEST: case BT_MSG_ALLOWED_FAST:
		rc = bt_msg_put_index(&w, (uint8_t)m->id, m->u.index);
		break;
	case BT_MSG_BITFIELD:
		rc = bt_msg_put_bitfield(&w, m->u.bitfield.bits, m->u.bitfield.len);
		break;
	case BT_MSG_REQUEST:
		rc = bt_msg_put_request(&w, m->u.req.index, m->u.req.begin, m->u.req.length);
		break;
	case BT_MSG_CANCEL:
		rc = bt_msg_put_cancel(&w, m->u.req.index, m->u.req.begin, m->u.req.length);
		break;
	case BT_MSG_REJECT:
		rc = bt_msg_put_reject(&w, m->u.req.index, m->u.req.begin, m->u.req.length);
		break;
	case BT_MSG_PIECE:
		FUZZ_CHECK(fz_inside(m->u.piece.data, m->u.piece.len, msg, len));
		rc = bt_msg_put_piece(&w, m->u.piece.index, m->u.piece.begin,
				      m->u.piece.data, m->u.piece.len);
		break;
	case BT_MSG_PORT:
		rc = bt_msg_put_port(&w, m->u.port);
		break;
	case BT_MSG_EXTENDED:
		FUZZ_CHECK(fz_inside(m->u.ext.payload, m->u.ext.len, msg, len));
		rc = bt_msg_put_extended(&w, m->u.ext.id, m->u.ext.payload, m->u.ext.len);
		break;
	case BT_MSG_HASH_REQUEST: case BT_MSG_HASH_REJECT:
		rc = bt_msg_put_hash_req(&w, (uint8_t)m->id, &m->u.hash);
		break;
	case BT_MSG_HASHES:
		FUZZ_CHECK(fz_inside(m->u.hashes.hashes, m->u.hashes.len, msg, len));
		FUZZ_CHECK(m->u.hashes.len % 32 == 0);
		rc = bt_msg_put_hashes(&w, &m->u.hashes.req, m->u.hashes.hashes,
				       m->u.hashes.len);
		break;
	default:
		/* Unknown id: no encoder; the payload view is all there is. */
		FUZZ_CHECK(m->kind == BT_MSG_UNKNOWN);
		FUZZ_CHECK(strcmp(bt_msg_name(m->id), "unknown") == 0);
		free(out);
		return;
	}
	FUZZ_CHECK(rc == BT_OK);
	FUZZ_CHECK(w.len == len);
	FUZZ_CHECK(memcmp(out, msg, len) == 0);
	FUZZ_CHECK(strcmp(bt_msg_name(m->id), "unknown") != 0);
	free(out);
}

static void one(const uint8_t *msg, size_t len)
{
	struct bt_msg m;
	int rc = bt_msg_parse(msg, len, &m);
	uint32_t prefix;

	if (len < 4) {
		FUZZ_CHECK(rc == BT_NEED_MORE);
		return;
	}
	prefix = bt_load_u32be(msg);
	if (len - 4 < prefix) {
		FUZZ_CHECK(rc == BT_NEED_MORE);
		return;
	}
	if (len - 4 > prefix) {
		FUZZ_CHECK(rc == BT_EINVAL && m.bad != NULL);
		return;
	}
	FUZZ_CHECK(m.len == prefix);
	if (prefix == 0) {
		FUZZ_CHECK(rc == BT_OK && m.kind == BT_MSG_KEEPALIVE && m.id == -1);
		reencode(msg, len, &m);
		return;
	}
	FUZZ_CHECK(m.id == msg[4]);
	FUZZ_CHECK(m.payload == msg + 5 && m.payload_len == len - 5);
	if (rc == BT_EINVAL) {
		FUZZ_CHECK(m.bad != NULL);
		FUZZ_CHECK(m.kind == m.id);   /* only known ids have sizes */
		FUZZ_CHECK(m.expect != m.payload_len || m.kind == BT_MSG_HASHES);
		return;
	}
	FUZZ_CHECK(rc == BT_OK && m.bad == NULL);
	reencode(msg, len, &m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *framed;

	one(data, size);
	if (size > UINT32_MAX)
		return 0;
	framed = malloc(size + 4);
	if (!framed)
		abort();
	bt_store_u32be(framed, (uint32_t)size);
	if (size)
		memcpy(framed + 4, data, size);
	one(framed, size + 4);
	free(framed);
	return 0;
}
