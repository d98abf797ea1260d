// Address classes for egress: internal ranges (private, loopback, link-local, CGNAT, mapped IPv6, metadata) refused.
import { describe, expect, it } from "vitest";
import { classifyAddress } from "./ip-address.js";
import { addressAllowed } from "./egress.js";

describe("address classes", () => {
  it.each([
    ["8.8.8.8", "public"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", "public"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "metadata"],
    ["169.254.1.1", "link-local"],
    ["100.64.0.1", "cgnat"],
    ["100.127.255.255", "cgnat"],
    ["0.0.0.0", "unspecified"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "metadata"],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "metadata"],
    ["2002:7f00:1::", "loopback"],
    ["2002:0a00:0001::1", "private"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["fe80::1", "link-local"],
    ["fd00:ec2::254", "metadata"],
    ["2606:4700::1111", "public"],
    ["[::1]", "loopback"],
  ])("%s is %s", (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it("refuses internal addresses unless the tool's own origin names such a host literally", () => {
    expect(addressAllowed("127.0.0.1", "api.example.com")).toBe(false);
    expect(addressAllowed("::ffff:10.0.0.1", "api.example.com")).toBe(false);
    expect(addressAllowed("93.184.216.34", "api.example.com")).toBe(true);
    expect(addressAllowed("127.0.0.1", "127.0.0.1")).toBe(true);
    expect(addressAllowed("127.0.0.1", "localhost")).toBe(true);
    expect(addressAllowed("10.0.0.1", "localhost")).toBe(false);
  });
});
