-- What the CLI's commands print the same way: padded tables and the bad-input
-- answer (stderr, and a JSON error document with --json; exit status 2).
local M = {}

M.BAD_INPUT = 2

-- rows (lists of strings; the last column is free text) as columns padded to
-- their widest cell, two spaces apart, no trailing blanks.
function M.pad_table(out, rows)
  local w = {}
  for _, r in ipairs(rows) do
    for i = 1, #r - 1 do w[i] = math.max(w[i] or 0, #r[i]) end
  end
  for _, r in ipairs(rows) do
    local parts = {}
    for i = 1, #r - 1 do parts[i] = r[i] .. string.rep(" ", w[i] - #r[i]) end
    parts[#r] = r[#r]
    out:write((table.concat(parts, "  "):gsub("%s+$", "")), "\n")
  end
end

-- Bad input: nothing was sent. Returns the exit status (2).
function M.bad_input(opts, out, err, msg)
  err:write("cloudrenew: ", msg, "\n")
  if opts and opts.json then
    out:write(require("cloudrenew.client.json").encode{ version = require("cloudrenew").VERSION,
      error = { code = "BadInput", message = msg }, exit_code = M.BAD_INPUT }, "\n")
  end
  return M.BAD_INPUT
end

-- --period: a whole number of months from 1 to 60, or nil and the message.
function M.period(v)
  local n = require("cloudrenew.client.num").int(tonumber(v), 1, 60)
  if not n then return nil, "--period must be a whole number of months from 1 to 60, got " .. tostring(v) end
  return n
end

return M
