// The two things call screening reads from a SIP request, taken from the raw
// message tm handed over (the Go SDK has a full header index; this is the
// minimum for the example).

// requestURI is the Request-URI of a request's start line ("" when the
// text is not a SIP request).
export function requestURI(raw) {
  const parts = raw.slice(0, raw.indexOf("\r\n")).split(" ");
  return parts.length === 3 && parts[2] === "SIP/2.0" && parts[1] ? parts[1] : "";
}

// fromURI is the From header's URI as written: inside <...> when there
// are angle brackets, else up to the first ';'. "" when there is no From
// or its < is not closed.
export function fromURI(raw) {
  const end = raw.indexOf("\r\n\r\n");
  const head = (end < 0 ? raw : raw.slice(0, end)).replace(/\r\n[ \t]+/g, " "); // unfold
  for (const line of head.split("\r\n").slice(1)) {
    const i = line.indexOf(":");
    const name = line.slice(0, i).trim().toLowerCase();
    if (i < 0 || (name !== "from" && name !== "f")) continue;
    const v = line.slice(i + 1).trim();
    const lt = v.indexOf("<"), gt = v.indexOf(">", lt);
    if (lt >= 0) return gt > lt ? v.slice(lt + 1, gt).trim() : ""; // unclosed <: no URI
    return v.split(";")[0].trim();
  }
  return "";
}
