-- Every example in README.md and docs/*.md runs, against the bundled fake cloud.
--
-- The spec reads every fenced code block of those files. By the fence's language:
--   lua                       run: a fresh lua5.4 process per block, with
--                             LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;'
--                             LUA_CPATH='build/?.so;;' CLOUDRENEW_METADATA_DISABLED=1
--   sh, bash, shell, console  run with `sh -e` (console: only the `$ ` lines), the
--                             same variables, so the CLI and the example scripts
--                             they start are real lua5.4 processes too
--   json, nginx, text, none   not examples: data (an inventory, audit-log lines,
--                             a tree) or configuration (nginx). Never run, no
--                             marker needed.
-- Any other language fails here, so a new one is sorted into a list above.
--
-- A block that cannot run (set-up commands, a crontab, an install, a shape that
-- is not a program) carries `<!-- not runnable: REASON -->` on the line right
-- before its fence (blank lines between are allowed); the reason must not be
-- empty, and a marker that stands before no fence is an error.
--
-- How an example reaches the fake without a word of it changed: before it runs,
-- spec/support/docs_preamble.lua wraps cloudrenew.tencent / cloudrenew.volcengine
-- so their options get the fake's endpoint and test keys (and the fake's metadata
-- service and STS). A Lua block gets the preamble on its first line (so line
-- numbers in errors are the block's own); Lua processes started by a shell block
-- get it through LUA_INIT_5_4 (bin/cloudrenew builds its clients through the same
-- two functions). Requests still take the real path: validation, the C signer,
-- libcurl, and the fake's own signature check.
--
-- Each block runs in its own empty directory, in a clean environment (env -i):
-- links to the checkout's bin/, build/, examples/, lua/, rockspec/ and spec/, a
-- copy of examples/inventory.json and teo-prices.json as `inventory.json` (what
-- the CLI page's commands name), HOME set to that directory and `cloudrenew` on
-- PATH (bin/cloudrenew). Audit logs the examples write land there, never in the
-- checkout. One fake serves the whole file and is reset before every block.
-- A block fails the spec if it raises or exits non-zero (an example may assert
-- on its results); its output is shown.
local fakecloud = require("support.fake")

local read = fakecloud.read_file
local ROOT = os.getenv("CLOUDRENEW_ROOT") or "."
local TIMEOUT = 60                     -- seconds per block (coreutils timeout)

local LUA = { lua = true }
local SHELL = { sh = true, bash = true, shell = true, console = true }
local DATA = { json = true, nginx = true, text = true, [""] = true }

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local ok = os.execute(cmd)
  return ok == true or ok == 0
end

local function capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local s = p:read("*a")
  p:close()
  return (s:gsub("%s+$", ""))
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local ABS = capture("cd " .. q(ROOT) .. " && pwd")

-- The documentation files, README.md first.
local function doc_files()
  local files = { "README.md" }
  local p = assert(io.popen("ls " .. q(ROOT .. "/docs") .. "/*.md 2>/dev/null"))
  for line in p:lines() do files[#files + 1] = "docs/" .. line:match("[^/]+$") end
  p:close()
  return files
end

-- Fenced blocks of one file: { file, line, lang, code, marker (reason | ""), marked }
-- and the markers that stand before no fence.
local function blocks_of(file)
  local text = assert(read(ROOT .. "/" .. file), "cannot read " .. file)
  local lines = {}
  for l in (text .. (text:sub(-1) == "\n" and "" or "\n")):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
  local out, stray = {}, {}
  local pending               -- { line, reason } of the last marker not yet used
  local i = 1
  while i <= #lines do
    local l = lines[i]
    local indent, ticks, lang = l:match("^(%s*)(```+)%s*([%w_+-]*)%s*$")
    local reason = l:match("^%s*<!%-%-%s*not runnable(.-)%-%->%s*$")
    if reason then
      if pending then stray[#stray + 1] = pending.line end
      pending = { line = i, reason = (reason:match("^%s*:%s*(.-)%s*$") or "") }
      i = i + 1
    elseif ticks then
      local body, j = {}, i + 1
      while j <= #lines and not lines[j]:match("^%s*" .. ticks .. "%s*$") do
        local b = lines[j]
        if b:sub(1, #indent) == indent then b = b:sub(#indent + 1) end
        body[#body + 1] = b
        j = j + 1
      end
      assert(j <= #lines, file .. ":" .. i .. ": unclosed fence")
      out[#out + 1] = { file = file, line = i, lang = lang:lower(), code = table.concat(body, "\n") .. "\n",
                        marked = pending ~= nil, reason = pending and pending.reason }
      pending = nil
      i = j + 1
    else
      if pending and l:match("%S") then
        stray[#stray + 1] = pending.line
        pending = nil
      end
      i = i + 1
    end
  end
  if pending then stray[#stray + 1] = pending.line end
  return out, stray
end

-- console blocks: the commands only.
local function console_commands(code)
  local cmds = {}
  for l in code:gmatch("([^\n]*)\n") do
    local c = l:match("^%$%s(.*)$")
    if c then cmds[#cmds + 1] = c end
  end
  return table.concat(cmds, "\n") .. "\n"
end

local all, strays = {}, {}
for _, file in ipairs(doc_files()) do
  local bs, stray = blocks_of(file)
  for _, b in ipairs(bs) do all[#all + 1] = b end
  for _, line in ipairs(stray) do strays[#strays + 1] = file .. ":" .. line end
end

describe("documentation examples", function()
  local fake, base, n = nil, nil, 0

  setup(function()
    fake = fakecloud.start{ tls = false }
    base = capture("mktemp -d /tmp/cloudrenew-docs.XXXXXX")
    assert(base:match("^/tmp/cloudrenew%-docs%.%w+$"), "mktemp: " .. base)
  end)
  teardown(function()
    if fake then fake:stop() end
    if base and base:match("^/tmp/cloudrenew%-docs%.%w+$") then sh("rm -rf " .. q(base)) end
  end)

  -- A fresh directory for one block.
  local function sandbox()
    n = n + 1
    local dir = base .. "/" .. n
    local cmd = { "mkdir -p " .. q(dir .. "/.bin") }
    for _, d in ipairs({ "bin", "build", "examples", "lua", "rockspec", "spec" }) do
      cmd[#cmd + 1] = "ln -s " .. q(ABS .. "/" .. d) .. " " .. q(dir .. "/" .. d)
    end
    cmd[#cmd + 1] = "ln -s " .. q(ABS .. "/bin/cloudrenew") .. " " .. q(dir .. "/.bin/cloudrenew")
    cmd[#cmd + 1] = "cp " .. q(ABS .. "/examples/inventory.json") .. " " .. q(ABS .. "/examples/teo-prices.json")
      .. " " .. q(dir)
    assert(sh(table.concat(cmd, " && ")), "sandbox " .. dir)
    return dir
  end

  -- Run `argv` (already quoted) in dir with a clean environment: exit code, output.
  local function run(dir, argv, extra_env)
    local env = {
      "PATH=" .. q(dir .. "/.bin:" .. (os.getenv("PATH") or "/usr/bin:/bin")), "HOME=" .. q(dir),
      "LUA_PATH='lua/?.lua;lua/?/init.lua;spec/?.lua;;'", "LUA_CPATH='build/?.so;;'",
      "CLOUDRENEW_METADATA_DISABLED=1", "CLOUDRENEW_DOCS_FAKE=" .. q(fake.url),
      "CLOUDRENEW_DOCS_ROOT=" .. q(ABS),
    }
    for _, e in ipairs(extra_env or {}) do env[#env + 1] = e end
    local cmd = "cd " .. q(dir) .. " && env -i " .. table.concat(env, " ") .. " timeout " .. TIMEOUT .. " "
      .. argv .. " >" .. q(dir .. "/.out") .. " 2>&1 </dev/null; echo $? >" .. q(dir .. "/.rc")
    os.execute(cmd)
    return tonumber(read(dir .. "/.rc")), read(dir .. "/.out") or ""
  end

  it("every not-runnable marker stands right before a fence", function()
    assert.are.same({}, strays)
  end)

  it("finds the examples", function()
    local counts = { run = 0, marked = 0 }
    for _, b in ipairs(all) do
      if b.marked then counts.marked = counts.marked + 1
      elseif LUA[b.lang] or SHELL[b.lang] then counts.run = counts.run + 1 end
    end
    assert.is_true(counts.run >= 10, "only " .. counts.run .. " runnable examples found")
  end)

  for _, b in ipairs(all) do
    local name = b.file .. ":" .. b.line .. " (" .. (b.lang == "" and "no language" or b.lang) .. ")"
    if b.marked then
      it(name .. " is marked not runnable with a reason", function()
        assert.is_true(b.reason ~= "", name .. ": `<!-- not runnable: REASON -->` needs a reason")
      end)
    elseif LUA[b.lang] or SHELL[b.lang] then
      it(name, function()
        fake:reset()
        local dir = sandbox()
        local code, out
        if LUA[b.lang] then
          -- The preamble on the block's own first line keeps its line numbers.
          write(dir .. "/example.lua", "dofile(" .. string.format("%q", ABS .. "/spec/support/docs_preamble.lua")
            .. ") " .. b.code)
          code, out = run(dir, "lua5.4 example.lua")
        else
          write(dir .. "/example.sh", b.lang == "console" and console_commands(b.code) or b.code)
          code, out = run(dir, "sh -e example.sh", { "LUA_INIT_5_4=" .. q("@" .. ABS .. "/spec/support/docs_preamble.lua") })
        end
        assert(code == 0, name .. " exited " .. tostring(code) .. ":\n" .. out .. "\n--- the block:\n" .. b.code)
      end)
    else
      it(name .. " is data or configuration", function()
        assert(DATA[b.lang], name .. ": fence language '" .. b.lang .. "' is neither run nor known as data:"
          .. " add it to LUA, SHELL or DATA in spec/docs_examples_spec.lua, or mark the block")
      end)
    end
  end
end)
