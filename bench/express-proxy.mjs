// The baseline: a plain express + http-proxy-middleware proxy that only injects the credential.
import express from "express";
import { createProxyMiddleware } from "http-proxy-middleware";

const target = process.argv[2];
const app = express();
app.use(
  createProxyMiddleware({
    target,
    changeOrigin: true,
    on: { proxyReq: (proxyReq) => proxyReq.setHeader("authorization", `Bearer ${process.env.STRIPE_API_KEY}`) },
  }),
);
const server = app.listen(0, "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));
