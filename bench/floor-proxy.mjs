// The floor: the least a Node proxy can do for this request — node:http in, one keep-alive undici Pool
// out (its dispatch API, as KeyRunner uses it: no stream per response), the credential injected, the
// answer buffered and returned. No validation, policy, redaction or audit. KeyRunner's cost above this
// line is the price of what it adds; below it is Node itself.
import { createServer } from "node:http";
import { Pool } from "undici";

const pool = new Pool(process.argv[2], { connections: 128 });
const authorization = `Bearer ${process.env.STRIPE_API_KEY}`;

function forward(body) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let status = 0;
    pool.dispatch(
      { path: "/v1/refunds", method: "POST", headers: { authorization, "content-type": "application/json" }, body },
      {
        onRequestStart() {},
        onResponseStart(_controller, statusCode) {
          status = statusCode;
        },
        onResponseData(_controller, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          resolve({ status, body: Buffer.concat(chunks) });
        },
        onResponseError(_controller, error) {
          reject(error);
        },
      },
    );
  });
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    try {
      const upstream = await forward(Buffer.concat(chunks));
      res.writeHead(upstream.status, { "content-type": "application/json", "content-length": upstream.body.length });
      res.end(upstream.body);
    } catch {
      res.writeHead(502).end();
    }
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));
// Exit on SIGTERM rather than die of it, so that a --cpu-prof profile is written (bench:profile floor).
process.on("SIGTERM", () => process.exit(0));
