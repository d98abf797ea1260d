import { describe, expect, it } from "vitest";
import { connectTarget } from "./connect.js";

describe("the target of a CONNECT", () => {
  it.each([
    ["a host and port", "api.stripe.com:443", { host: "api.stripe.com", port: "443" }],
    ["upper case, read as lower", "API.Stripe.com:443", { host: "api.stripe.com", port: "443" }],
    ["an IPv6 address in brackets", "[::1]:8443", { host: "::1", port: "8443" }],
    ["no port", "api.stripe.com", undefined],
    ["port 0", "api.stripe.com:0", undefined],
    ["a port above 65535", "api.stripe.com:65536", undefined],
    ["user info", "user@api.stripe.com:443", undefined],
    ["a path", "api.stripe.com:443/x", undefined],
    ["a trailing dot", "api.stripe.com.:443", undefined],
    ["an empty host", ":443", undefined],
    ["control characters", "api.stripe.com\r\n:443", undefined],
  ])("%s", (_name, authority, expected) => {
    expect(connectTarget(authority)).toEqual(expected);
  });
});
