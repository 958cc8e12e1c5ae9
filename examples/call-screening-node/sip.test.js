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

// Network input: any text gives a string and never throws (a seeded
// random walk over SIP-ish pieces and arbitrary characters).
test("arbitrary input", () => {
  const pieces = ["INVITE ", "sip:", "SIP/2.0", "\r\n", "\r\n\r\n", "From:", "f:", "<", ">", ";", " ", "\t", ":", "\u0000", "é", "\ud800"];
  let seed = 17;
  const rnd = (n) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  for (let i = 0; i < 5000; i++) {
    let s = "";
    for (let j = rnd(40); j > 0; j--) s += rnd(4) ? pieces[rnd(pieces.length)] : String.fromCharCode(rnd(65536));
    assert.equal(typeof requestURI(s), "string");
    assert.equal(typeof fromURI(s), "string");
  }
});
