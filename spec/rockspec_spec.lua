-- The rockspec installs offline (LuaRocks make, no server) into a scratch tree,
-- and the installed module loads and makes a signed call to the fake cloud.

local ROCKSPEC = "rockspec/cloudrenew-scm-1.rockspec"

-- The rockspec's Lua modules: name -> file (the C module's table entry is skipped).
local function rock_modules()
  local env = {}
  assert(loadfile(ROCKSPEC, "t", env))()
  local out = {}
  for name, src in pairs(env.build.modules) do
    if type(src) == "string" then out[name] = src end
  end
  return out
end
describe("rockspec", function()
  it("lists every Lua module file under lua/ once, under the name require finds it by, and nothing else", function()
    local listed = rock_modules()
    local files = {}
    for path in io.popen("find lua -name '*.lua' | sort"):lines() do
      -- lua/cloudrenew/workflow/init.lua -> cloudrenew.workflow
      local name = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
      files[name] = path
    end
    assert.is_not_nil(files["cloudrenew.workflow"], "no lua/ tree found")
    for name, path in pairs(files) do
      assert.are.equal(path, listed[name], "lua file " .. path .. " is not listed as " .. name)
    end
    for name, path in pairs(listed) do
      assert.are.equal(path, files[name], "the rockspec lists " .. name .. " = " .. path .. ", which is not a module file")
    end
    local others = io.popen("find lua -type f ! -name '*.lua'"):read("*a")
    assert.are.equal("", others, "non-Lua files under lua/ would not be installed")
  end)

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
    -- every listed module lands in the tree and loads from there (aliases included;
    -- cloudrenew.sign.ffi needs LuaJIT's ffi, which sign_ffi_spec covers)
    local names = {}
    for name in pairs(rock_modules()) do names[#names + 1] = name end
    table.sort(names)
    local check = assert(io.popen(string.format("LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua;;' "
      .. "LUA_CPATH='%s/lib/lua/5.4/?.so;;' lua5.4 -e \"for _, n in ipairs{'%s'} do "
      .. "local p = assert(package.searchpath(n, package.path), n) "
      .. "assert(p:find('%s', 1, true) == 1, p) if n ~= 'cloudrenew.sign.ffi' then require(n) end end "
      .. "io.write('loaded ', %d)\" 2>&1",
      tree, tree, tree, table.concat(names, "','"), tree, #names)))
    local loaded = check:read("*a")
    check:close()
    assert.are.equal("loaded " .. #names, loaded)
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
