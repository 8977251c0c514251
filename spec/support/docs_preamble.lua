-- Test seam for spec/docs_examples_spec.lua: run before every documented
-- example (prepended to a ```lua block; LUA_INIT_5_4 for the Lua processes a
-- shell block starts, bin/cloudrenew included). It points the public client
-- constructors at the bundled fake cloud without touching the example's text:
-- cloudrenew.tencent / cloudrenew.volcengine get the fake's endpoint, and its
-- test keys unless the example asks for another credential provider (then the
-- metadata service and STS are the fake's). Everything else is the real path:
-- validation, the C signer, libcurl, the fake's own signature check. The CLI
-- builds its clients through the same two functions.
--   CLOUDRENEW_DOCS_FAKE  the fake's base URL (http://127.0.0.1:PORT)
--   CLOUDRENEW_DOCS_ROOT  the checkout (for spec/fakecloud/credentials.json)
local url = os.getenv("CLOUDRENEW_DOCS_FAKE")
if not url then return end
local root = os.getenv("CLOUDRENEW_DOCS_ROOT") or "."
local json = require("cloudrenew.json")
local f = assert(io.open(root .. "/spec/fakecloud/credentials.json", "rb"))
local creds = assert(json.decode(f:read("*a")))
f:close()
local cloudrenew = require("cloudrenew")

local KEYS = {
  tencent = function(o)
    local c = creds.tencent[1]
    o.secret_id, o.secret_key, o.token = c.secret_id, c.secret_key, nil
  end,
  volcengine = function(o)
    local c = creds.volcengine[1]
    o.access_key, o.secret_key, o.session_token = c.access_key, c.secret_key, nil
  end,
}

for name, keys in pairs(KEYS) do
  local new = cloudrenew[name]
  cloudrenew[name] = function(opts)
    if type(opts) ~= "table" then return new(opts) end
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    -- Where requests go: the fake, by its plain-HTTP loopback endpoint (so a
    -- connect_to, CA bundle or proxy meant for the real clouds is dropped).
    o.endpoint, o.connect_to, o.ca_file, o.proxy = url, nil, nil, nil
    o.metadata_endpoint, o.sts_endpoint = url, url
    if o.credentials == nil or o.credentials == "options" then keys(o) end
    return new(o)
  end
end
