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
build = {
  type = "builtin",
  modules = {
    -- Every Lua module, one line each (spec/rockspec_spec.lua checks this list
    -- against lua/: every file listed, nothing else).
    ["cloudrenew"] = "lua/cloudrenew/init.lua",
    ["cloudrenew.audit"] = "lua/cloudrenew/audit.lua",
    ["cloudrenew.cli"] = "lua/cloudrenew/cli/init.lua",
    ["cloudrenew.cli.inventory"] = "lua/cloudrenew/cli/inventory.lua",
    ["cloudrenew.cli.autorenew"] = "lua/cloudrenew/cli/autorenew.lua",
    ["cloudrenew.cli.metrics"] = "lua/cloudrenew/cli/metrics.lua",
    ["cloudrenew.cli.forecast"] = "lua/cloudrenew/cli/forecast.lua",
    ["cloudrenew.cli.progress"] = "lua/cloudrenew/cli/progress.lua",
    ["cloudrenew.cli.text"] = "lua/cloudrenew/cli/text.lua",
    ["cloudrenew.metrics"] = "lua/cloudrenew/metrics/init.lua",
    ["cloudrenew.metrics.collector"] = "lua/cloudrenew/metrics/collector.lua",
    ["cloudrenew.cli.expiring"] = "lua/cloudrenew/cli/expiring.lua",
    ["cloudrenew.cli.reconcile"] = "lua/cloudrenew/cli/reconcile.lua",
    ["cloudrenew.client"] = "lua/cloudrenew/client/init.lua",
    ["cloudrenew.client.answer"] = "lua/cloudrenew/client/answer.lua",
    ["cloudrenew.client.catalog"] = "lua/cloudrenew/client/catalog.lua",
    ["cloudrenew.client.errors"] = "lua/cloudrenew/client/errors.lua",
    ["cloudrenew.client.json"] = "lua/cloudrenew/client/json.lua",
    ["cloudrenew.client.num"] = "lua/cloudrenew/client/num.lua",
    ["cloudrenew.client.observe"] = "lua/cloudrenew/client/observe.lua",
    ["cloudrenew.client.options"] = "lua/cloudrenew/client/options.lua",
    ["cloudrenew.client.pages"] = "lua/cloudrenew/client/pages.lua",
    ["cloudrenew.client.policy"] = "lua/cloudrenew/client/policy.lua",
    ["cloudrenew.client.tencent"] = "lua/cloudrenew/client/tencent.lua",
    ["cloudrenew.client.validate"] = "lua/cloudrenew/client/validate.lua",
    ["cloudrenew.client.volcengine"] = "lua/cloudrenew/client/volcengine.lua",
    ["cloudrenew.confirm"] = "lua/cloudrenew/confirm.lua",
    ["cloudrenew.credentials"] = "lua/cloudrenew/credentials/init.lua",
    ["cloudrenew.credentials.providers"] = "lua/cloudrenew/credentials/providers.lua",
    ["cloudrenew.credentials.roles"] = "lua/cloudrenew/credentials/roles.lua",
    ["cloudrenew.dates"] = "lua/cloudrenew/dates.lua",
    ["cloudrenew.json"] = "lua/cloudrenew/json.lua",
    ["cloudrenew.net.map"] = "lua/cloudrenew/net/map.lua",
    ["cloudrenew.net.map_ngx"] = "lua/cloudrenew/net/map_ngx.lua",
    ["cloudrenew.net.retry"] = "lua/cloudrenew/net/retry.lua",
    ["cloudrenew.net.runtime"] = "lua/cloudrenew/net/runtime.lua",
    ["cloudrenew.net.transport"] = "lua/cloudrenew/net/transport.lua",
    ["cloudrenew.net.transport_ngx"] = "lua/cloudrenew/net/transport_ngx.lua",
    ["cloudrenew.num"] = "lua/cloudrenew/num.lua",
    ["cloudrenew.observe"] = "lua/cloudrenew/observe.lua",
    ["cloudrenew.pacer_redis"] = "lua/cloudrenew/pacer_redis.lua",
    ["cloudrenew.pacing"] = "lua/cloudrenew/pacing/init.lua",
    ["cloudrenew.pacing.ngx"] = "lua/cloudrenew/pacing/ngx.lua",
    ["cloudrenew.pacing.redis"] = "lua/cloudrenew/pacing/redis.lua",
    ["cloudrenew.pages"] = "lua/cloudrenew/pages.lua",
    ["cloudrenew.products"] = "lua/cloudrenew/products/init.lua",
    ["cloudrenew.products.base"] = "lua/cloudrenew/products/base.lua",
    ["cloudrenew.products.cvm"] = "lua/cloudrenew/products/cvm.lua",
    ["cloudrenew.products.ecs"] = "lua/cloudrenew/products/ecs.lua",
    ["cloudrenew.products.hspro"] = "lua/cloudrenew/products/hspro.lua",
    ["cloudrenew.products.teo"] = "lua/cloudrenew/products/teo.lua",
    ["cloudrenew.products.volc_billing"] = "lua/cloudrenew/products/volc_billing.lua",
    ["cloudrenew.products.cbs"] = "lua/cloudrenew/products/cbs.lua",
    ["cloudrenew.products.cdb"] = "lua/cloudrenew/products/cdb.lua",
    ["cloudrenew.products.crs"] = "lua/cloudrenew/products/crs.lua",
    ["cloudrenew.products.lighthouse"] = "lua/cloudrenew/products/lighthouse.lua",
    ["cloudrenew.products.tc_billing"] = "lua/cloudrenew/products/tc_billing.lua",
    ["cloudrenew.redis"] = "lua/cloudrenew/redis/init.lua",
    ["cloudrenew.redis.ngx"] = "lua/cloudrenew/redis/ngx.lua",
    ["cloudrenew.redis_ngx"] = "lua/cloudrenew/redis_ngx.lua",
    ["cloudrenew.settle"] = "lua/cloudrenew/settle.lua",
    ["cloudrenew.sign"] = "lua/cloudrenew/sign/init.lua",
    ["cloudrenew.sign.ffi"] = "lua/cloudrenew/sign/ffi.lua",
    ["cloudrenew.workflow"] = "lua/cloudrenew/workflow/init.lua",
    ["cloudrenew.workflow.audit"] = "lua/cloudrenew/workflow/audit.lua",
    ["cloudrenew.workflow.audit_entry"] = "lua/cloudrenew/workflow/audit_entry.lua",
    ["cloudrenew.workflow.confirm"] = "lua/cloudrenew/workflow/confirm.lua",
    ["cloudrenew.workflow.dates"] = "lua/cloudrenew/workflow/dates.lua",
    ["cloudrenew.workflow.discover"] = "lua/cloudrenew/workflow/discover.lua",
    ["cloudrenew.workflow.autorenew"] = "lua/cloudrenew/workflow/autorenew.lua",
    ["cloudrenew.workflow.expiring"] = "lua/cloudrenew/workflow/expiring.lua",
    ["cloudrenew.workflow.forecast"] = "lua/cloudrenew/workflow/forecast.lua",
    ["cloudrenew.workflow.ledger"] = "lua/cloudrenew/workflow/ledger.lua",
    ["cloudrenew.workflow.money"] = "lua/cloudrenew/workflow/money.lua",
    ["cloudrenew.workflow.pipeline"] = "lua/cloudrenew/workflow/pipeline.lua",
    ["cloudrenew.workflow.lanes"] = "lua/cloudrenew/workflow/lanes.lua",
    ["cloudrenew.workflow.settle"] = "lua/cloudrenew/workflow/settle.lua",
    ["cloudrenew.core"] = {
      sources = { "csrc/sign.c", "csrc/sign_args.c", "csrc/http.c", "csrc/ratelimit.c", "csrc/fileio.c",
                   "csrc/redis.c", "csrc/lua_util.c", "csrc/lua_sign.c", "csrc/lua_sign_pub.c",
                   "csrc/lua_sign_detail.c", "csrc/lua_http.c", "csrc/lua_pace.c", "csrc/lua_fileio.c",
                   "csrc/lua_redis.c", "csrc/lua_core.c" },
      libraries = { "curl", "ssl", "crypto", "hiredis", "pthread" },
      defines = { "CLOUDRENEW_VERSION=\"0.1.0\"", "_POSIX_C_SOURCE=200809L", "_DEFAULT_SOURCE" },
      incdirs = { "$(CURL_INCDIR)", "$(OPENSSL_INCDIR)", "$(HIREDIS_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(OPENSSL_LIBDIR)", "$(HIREDIS_LIBDIR)" },
    },
  },
  install = { bin = { cloudrenew = "bin/cloudrenew" } },
}
