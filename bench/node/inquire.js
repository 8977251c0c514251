// Sequential InquiryPriceRenewInstances calls through Tencent's official Node
// SDK (tencentcloud-sdk-nodejs-cvm) against the bundled fake cloud, for the
// comparison in bench/README.md (make bench-node). argv: url count warmup
const cvm = require("tencentcloud-sdk-nodejs-cvm").cvm.v20170312;
const [url, count, warmup] = [process.argv[2], +process.argv[3], +process.argv[4]];
const u = new URL(url);
const creds = require("../../spec/fakecloud/credentials.json").tencent[0];
// The SDK signs the host without its port but sends it with the port, so it
// talks to the real host name and a keep-alive agent connects it to the fake
// (as cloudrenew's connect_to does).
const http = require("http");
const agent = new http.Agent({ keepAlive: true });
agent.createConnection = (opts, cb) => require("net").createConnection(+u.port, u.hostname, cb);
const client = new cvm.Client({
  credential: { secretId: creds.secret_id, secretKey: creds.secret_key },
  region: "ap-guangzhou",
  profile: { httpProfile: { endpoint: "cvm.tencentcloudapi.com", protocol: "http://", reqTimeout: 10, agent } },
});
const req = { InstanceIds: ["ins-nodebnch"], InstanceChargePrepaid: { Period: 1 } };
(async () => {
  for (let i = 0; i < warmup; i++) await client.InquiryPriceRenewInstances(req);
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const r = await client.InquiryPriceRenewInstances(req);
    if (!r.Price) throw new Error("no Price in the answer");
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ calls: count, seconds: s, per_second: count / s,
    cpu_us_per_call: (c.user + c.system) / count }));
})().catch((e) => { console.error(String(e)); process.exit(1); });
