-- The rockspec installs offline (LuaRocks make, no server) into a scratch tree,
-- and the installed module loads and makes a signed call to the fake cloud.
describe("rockspec", function()
  it("installs with luarocks make and passes a smoke call", function()
    local tree = os.tmpname()
    os.remove(tree)
    -- luarocks make compiles in the directory it runs in: build from a copy of
    -- what the rockspec names, so the checkout gets no csrc/*.o or cloudrenew/core.so
    local src = tree .. "-src"
    assert(os.execute("mkdir -p " .. src .. " && cp -r rockspec csrc lua bin " .. src))
    local p = assert(io.popen("cd " .. src .. " && luarocks --lua-version=5.4 make rockspec/cloudrenew-scm-1.rockspec"
      .. " --tree " .. tree .. " --deps-mode=none 2>&1"))
    local out = p:read("*a")
    local ok = p:close()
    assert.is_true(ok == true or ok == 0, out)
    for name in io.popen("ls lua/cloudrenew"):lines() do
      assert.is_not_nil(io.open(tree .. "/share/lua/5.4/cloudrenew/" .. name), name .. " not installed")
    end
    local smoke = [[
      local fake = require("support.fake").start{ tls = false }
      local cloudrenew = require("cloudrenew")
      assert(package.searchpath("cloudrenew.workflow", package.path):find("]] .. tree .. [[", 1, true))
      require("cloudrenew.workflow")
      assert(package.searchpath("cloudrenew.core", package.cpath):find("]] .. tree .. [[", 1, true))
      local tc = assert(cloudrenew.tencent(fake:tencent_opts()))
      local res = assert(tc.cvm:InquiryPriceRenewInstances{ InstanceIds = { "ins-2zvpghhc" },
                                                            InstanceChargePrepaid = { Period = 1 } })
      io.write("price ", res.Price.InstancePrice.DiscountPrice)
      fake:stop()
    ]]
    local script = os.tmpname()
    local f = assert(io.open(script, "w")); f:write(smoke); f:close()
    p = assert(io.popen(string.format(
      "LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;spec/?.lua;;' " ..
      "LUA_CPATH='%s/lib/lua/5.4/?.so;;' lua5.4 %s 2>&1", tree, tree, tree, script)))
    out = p:read("*a")
    p:close()
    os.remove(script)
    -- the CLI is installed as a command (a scratch tree is not on LuaRocks'
    -- default paths, so point Lua at it as `luarocks path --tree` would)
    p = assert(io.popen(string.format("LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;;' "
      .. "LUA_CPATH='%s/lib/lua/5.4/?.so;;' %s/bin/cloudrenew --version 2>&1", tree, tree, tree, tree)))
    local version = p:read("*a")
    p:close()
    os.execute("rm -rf " .. tree .. " " .. src)
    assert.truthy(out:find("^price %d"), out)
    assert.are.equal("cloudrenew " .. require("cloudrenew").VERSION .. "\n", version)
  end)
end)
