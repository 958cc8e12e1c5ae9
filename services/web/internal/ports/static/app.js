// sipbus web page: live registrations and calls (Server-Sent Events),
// click-to-dial with live progress. No dependencies, no build step.
// Everything from the network is written with textContent, never as HTML.
"use strict";
(function () {
  var body = document.body;
  if (!body.dataset.aor) return; // the sign-in page
  var csrf = body.dataset.csrf;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Registrations: countdown and live list.
  var regList = document.getElementById("reg-list");
  function renderBindings(list) {
    regList.textContent = "";
    if (!list.length) { regList.appendChild(el("li", "empty", "No phone is registered.")); return; }
    list.forEach(function (b) {
      var li = el("li");
      li.dataset.expires = b.expires_at;
      li.appendChild(el("span", "contact", b.contact));
      li.appendChild(el("span", "ua", b.user_agent || ""));
      li.appendChild(el("span", "transport", b.transport));
      li.appendChild(el("span", "nat", b.nat ? "behind NAT" : "direct"));
      li.appendChild(el("span", "expires"));
      regList.appendChild(li);
    });
    tick();
  }
  function tick() {
    var now = Date.now(), left = 0;
    regList.querySelectorAll("li[data-expires]").forEach(function (li) {
      var at = Number(li.dataset.expires);
      if (!at) { li.querySelector(".expires").textContent = "permanent"; left++; return; }
      var s = Math.ceil((at - now) / 1000);
      if (s <= 0) { li.remove(); return; }
      li.querySelector(".expires").textContent = "expires in " + s + " s";
      left++;
    });
    if (!left && !regList.querySelector("li.empty")) regList.appendChild(el("li", "empty", "No phone is registered."));
  }
  setInterval(tick, 1000);
  tick();

  // Calls: a new line from the stream goes on top.
  var callList = document.getElementById("call-list");
  function addCall(c) {
    if (callList.querySelector('li[data-id="' + CSS.escape(c.id) + '"]')) return;
    var empty = callList.querySelector("li.empty");
    if (empty) empty.remove();
    var li = el("li", c.missed ? "missed" : "");
    li.dataset.id = c.id;
    li.appendChild(el("span", "when", new Date(c.started_at).toLocaleString()));
    li.appendChild(el("span", "dir", c.dir === "in" ? "from" : "to"));
    li.appendChild(el("span", "peer", (c.peer.display ? c.peer.display + " " : "") + "<" + c.peer.uri + ">"));
    var state = c.missed ? "missed (" + c.reason + ")" : c.answered ? "answered" : "not answered (" + c.reason + ")";
    li.appendChild(el("span", "state", state));
    var b = el("button", "dial", "Call back");
    b.type = "button";
    b.dataset.to = c.peer.uri;
    li.appendChild(b);
    callList.insertBefore(li, callList.firstChild);
  }

  var es = new EventSource(body.dataset.events);
  es.addEventListener("bindings", function (e) { renderBindings(JSON.parse(e.data)); });
  es.addEventListener("call", function (e) { addCall(JSON.parse(e.data)); });

  // Click to dial (the click-to-dial API on the same origin).
  var dial = document.getElementById("dial");
  var phaseEl = document.getElementById("dial-phase");
  var reasonEl = document.getElementById("dial-reason");
  var current = null, stream = null;
  var phases = ["trying", "caller_answered", "referred", "callee_ringing", "connected", "failed", "cancelled", "ended"];
  var hangup = document.getElementById("dial-hangup");
  function show(phase, reason) {
    phaseEl.textContent = phase;
    reasonEl.textContent = reason || "";
    dial.dataset.phase = phase;
    // Connected, the call is between the two phones (REFER): it ends on a
    // phone. Before that the button cancels it.
    hangup.hidden = phase === "connected" || phase === "failed" || phase === "cancelled" || phase === "ended";
  }
  function start(to) {
    if (stream) stream.close();
    dial.hidden = false;
    document.getElementById("dial-to").textContent = to;
    show("starting");
    fetch("/v1/calls", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ from: body.dataset.from, to: to })
    }).then(function (r) {
      return r.json().then(function (j) { return { ok: r.ok, j: j }; });
    }).then(function (res) {
      if (!res.ok) { show("failed", res.j.error || ""); return; }
      current = res.j.id;
      show(res.j.phase || "trying");
      stream = new EventSource("/v1/calls/" + encodeURIComponent(current) + "/events");
      phases.forEach(function (p) {
        stream.addEventListener(p, function (e) {
          var d = {}; try { d = JSON.parse(e.data); } catch (x) {}
          show(p, d.reason || "");
          // A terminal phase ends the stream; closing keeps EventSource from reconnecting.
          if (p === "connected" || p === "failed" || p === "cancelled" || p === "ended") { stream.close(); }
        });
      });
    }).catch(function (err) { show("failed", String(err)); });
  }
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (t.classList && t.classList.contains("dial")) start(t.dataset.to);
  });
  hangup.addEventListener("click", function () {
    if (!current) return;
    fetch("/v1/calls/" + encodeURIComponent(current), {
      method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": csrf }
    }).then(function (r) { return r.json(); }).then(function (j) { show(j.phase || "cancelled", j.reason || ""); });
  });
})();
