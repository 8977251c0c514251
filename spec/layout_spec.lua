-- The layout (docs/layout.md): modules live in packages by pipeline stage; the
-- names README documented before the move keep working as aliases that hand back
-- the very same module table (so state such as json's settings is never doubled).
local ALIASES = {
  ["cloudrenew.audit"] = "cloudrenew.workflow.audit",
  ["cloudrenew.confirm"] = "cloudrenew.workflow.confirm",
  ["cloudrenew.dates"] = "cloudrenew.workflow.dates",
  ["cloudrenew.settle"] = "cloudrenew.workflow.settle",
  ["cloudrenew.json"] = "cloudrenew.client.json",
  ["cloudrenew.num"] = "cloudrenew.client.num",
  ["cloudrenew.observe"] = "cloudrenew.client.observe",
  ["cloudrenew.pages"] = "cloudrenew.client.pages",
  ["cloudrenew.pacer_redis"] = "cloudrenew.pacing.redis",
  ["cloudrenew.redis_ngx"] = "cloudrenew.redis.ngx",
}

describe("layout", function()
  for old, new in pairs(ALIASES) do
    it(old .. " is " .. new, function()
      local a, b = require(old), require(new)
      assert.are.equal("table", type(b))
      assert.are.equal(b, a)
    end)
  end

  it("the top of lua/cloudrenew holds init.lua, the aliases and the stage packages only", function()
    local seen = {}
    for name in io.popen("ls lua/cloudrenew"):lines() do
      local mod = name:match("^(.*)%.lua$")
      if mod and mod ~= "init" then
        assert.is_not_nil(ALIASES["cloudrenew." .. mod], name .. " at the top level is not an alias")
        seen[#seen + 1] = mod
      elseif not mod then
        local p = io.popen("test -d lua/cloudrenew/" .. name .. " && echo dir")
        assert.are.equal("dir\n", p:read("*a"), name .. " is neither a module nor a package")
        p:close()
      end
    end
    local n = 0
    for _ in pairs(ALIASES) do n = n + 1 end
    assert.are.equal(n, #seen)
  end)

  it("only the csrc/lua_*.c binding files know Lua; the rest of the C core stays pure C", function()
    local pure, bindings = 0, 0
    for path in io.popen("ls csrc/*.c csrc/*.h"):lines() do
      local f = assert(io.open(path, "rb"))
      local text = f:read("*a")
      f:close()
      local knows = text:find('#include%s*[<"]lua%.h[>"]') or text:find('#include%s*[<"]lauxlib%.h[>"]')
        or text:find('#include%s*"lua_[%w_]+%.h"') or text:find('#include%s*"compat%.h"')
      if path:find("^csrc/lua_") or path == "csrc/compat.h" then
        bindings = bindings + 1
      else
        pure = pure + 1
        assert.is_nil(knows, path .. " includes Lua")
      end
    end
    assert.is_true(pure >= 10 and bindings >= 8, pure .. " pure, " .. bindings .. " binding files")
  end)

  it("the public entry points load under their documented names", function()
    for _, name in ipairs{ "cloudrenew", "cloudrenew.sign", "cloudrenew.workflow", "cloudrenew.cli",
                           "cloudrenew.credentials", "cloudrenew.redis", "cloudrenew.core" } do
      assert.are.equal("table", type(require(name)), name)
    end
    local cloudrenew = require("cloudrenew")
    for _, f in ipairs{ "tencent", "volcengine", "map", "set_sleep" } do
      assert.are.equal("function", type(cloudrenew[f]), f)
    end
  end)
end)
