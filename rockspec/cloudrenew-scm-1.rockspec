rockspec_format = "3.0"
package = "cloudrenew"
version = "scm-1"
source = {
  url = "git+https://example.invalid/cloudrenew.git",
}
description = {
  summary = "Inquire renewal prices and renew prepaid resources on Tencent Cloud and Volcengine",
  detailed = [[
A Lua module with a C core (OpenSSL signing, libcurl transport, pacing) that
renews prepaid cloud resources and inquires their renewal prices on Tencent Cloud
(CVM, EdgeOne, Host Security) and Volcengine (ECS, billing).]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
  "argparse >= 0.6",   -- bin/cloudrenew only
}
-- CURL is found by its library: Debian keeps curl/curl.h in the multiarch
-- include directory, which LuaRocks' header probe does not search (gcc does).
external_dependencies = {
  CURL = { library = "curl" },
  OPENSSL = { header = "openssl/evp.h", library = "crypto" },
  HIREDIS = { header = "hiredis/hiredis.h", library = "hiredis" },   -- Debian libhiredis-dev
}
-- The Lua modules need no list: the builtin backend installs everything under
-- lua/ as is (lua/cloudrenew/init.lua -> require "cloudrenew"); the rockspec
-- spec checks that each one lands in the tree.
build = {
  type = "builtin",
  modules = {
    ["cloudrenew.core"] = {
      sources = { "csrc/sign.c", "csrc/sign_args.c", "csrc/http.c", "csrc/ratelimit.c", "csrc/fileio.c",
                   "csrc/redis.c", "csrc/lua_core.c" },
      libraries = { "curl", "ssl", "crypto", "hiredis", "pthread" },
      defines = { "CLOUDRENEW_VERSION=\"0.1.0\"", "_POSIX_C_SOURCE=200809L", "_DEFAULT_SOURCE" },
      incdirs = { "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)", "$(HIREDIS_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)", "$(HIREDIS_LIBDIR)" },
    },
  },
  install = { bin = { cloudrenew = "bin/cloudrenew" } },
}
