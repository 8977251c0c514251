/* What the signing binding files (lua_sign.c, lua_sign_pub.c, lua_sign_detail.c) share: the per-state signer and its upvalues. */
#ifndef CR_LUA_SIGN_H
#define CR_LUA_SIGN_H

#include "lua_util.h"
#include "sign.h"

/* One per lua_State, owned by a userdata (lua_sign.c) that is upvalue 1 of
 * every signing closure; its __gc frees the C state with the Lua state. */
typedef struct {
  cr_signer *s;
  cr_sign_output out;        /* reused: buffers keep their capacity */
  cr_kv *kv;                 /* headers / query pairs of one call */
  char (*num)[32];           /* num[i]: kv[i]'s value when it was a number */
  size_t cap;
} l_signer;

/* Upvalue 1 is the l_signer; the field names follow (interned once, so a read
 * is a table lookup rather than a string hash), then the detail metatable,
 * the weak table linking an unread detail to its snapshot and a table whose
 * [1] is the refusal handler sign.lua installs (core.sign_on_error). */
enum { K_SECRET_ID = 2, K_SECRET_KEY, K_SERVICE, K_HOST, K_METHOD, K_CONTENT_TYPE, K_PAYLOAD,
       K_QUERY, K_TIMESTAMP, K_HEADERS, K_ACCESS_KEY, K_REGION, K_DATE, K_PATH, K_BODY,
       K_AUTHORIZATION, K_CANONICAL_QUERY, K_CANONICAL_REQUEST, K_STRING_TO_SIGN,
       K_SIGNED_HEADERS, K_SIGNATURE, K_DETAIL_MT, K_LINKS, K_FAIL };
extern const char *const cr_sign_keys[];   /* K_SECRET_ID.. K_SIGNATURE's names, NULL-terminated */
#define SIGN_UPVALUES (K_FAIL)
#define KEY(k) lua_upvalueindex(k)
#define KNAME(k) cr_sign_keys[(k) - K_SECRET_ID]

static inline l_signer *state_signer(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

/* lua_sign_pub.c: core.sign_tc3 / core.sign_volc (closures over the upvalues above). */
int cr_l_sign_tc3(lua_State *L);
int cr_l_sign_volc(lua_State *L);

/* lua_sign_detail.c: the detail metatable's __index and __pairs (same upvalues),
 * and the detail of o pushed, called from inside a signing closure. */
int cr_l_detail_index(lua_State *L);
int cr_l_detail_pairs(lua_State *L);
void cr_sign_push_detail(lua_State *L, const cr_sign_output *o, int volc);

#endif
