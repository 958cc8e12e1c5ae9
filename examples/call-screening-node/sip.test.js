// Unit tests of sip.js (node --test; `make test-node`). The end-to-end test
// against `sipbus up` with SIPp is cmd/sipbus TestExampleCallScreeningNode.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fromURI, requestURI } from "./sip.js";

const invite = (from) => `INVITE sip:bob@localhost SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070\r\n${from}\r\nTo: <sip:bob@localhost>\r\n\r\nv=0\r\nFrom: <sip:body@x>\r\n`;

test("requestURI", () => {
  assert.equal(requestURI(invite("From: <sip:a@b>")), "sip:bob@localhost");
  for (const bad of ["", "garbage", "INVITE sip:bob@x\r\n", "SIP/2.0 200 OK\r\n", "INVITE  SIP/2.0\r\n"]) {
    assert.equal(requestURI(bad), "", JSON.stringify(bad));
  }
});

test("fromURI", () => {
  const cases = [
    ["From: <sip:caller@localhost>;tag=1", "sip:caller@localhost"],
    ['From: "Caller, Inc" <sip:caller@localhost;transport=udp>;tag=1', "sip:caller@localhost;transport=udp"],
    ["f: sip:caller@localhost;tag=2", "sip:caller@localhost"],
    ["FROM:\r\n <sip:folded@localhost>;tag=3", "sip:folded@localhost"],
    ["X-From: <sip:not@this>", ""], // another header; and the body's From is not a header
    ["From: <sip:unclosed@x", ""],
  ];
  for (const [line, want] of cases) assert.equal(fromURI(invite(line)), want, line);
  assert.equal(fromURI(""), "");
});
