-- The fake cloud's own self-test: its verifier reproduces the clouds' official
-- signing examples, so the specs above are checked against a proven reference.
describe("fake cloud", function()
  it("passes its self-test (official signing vectors, faults, TLS, throttling)", function()
    local p = assert(io.popen("python3 spec/fakecloud/selftest.py 2>&1"))
    local out = p:read("*a")
    local ok = p:close()
    assert.is_true(ok == true or ok == 0, out)
  end)
end)
