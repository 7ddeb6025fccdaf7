/* Confirm picks (a pick list's page › Confirm picks): a barcode scanner
 * types a code and Enter; every scan goes to the server, which stores it
 * with the pick list and answers JSON. No mouse needed:
 *   scan the bin, then the item; 5*CODE counts five; F8 marks the rest of
 *   the outlined line short; F9 confirms the pick list (shorts ship short).
 * Feedback (colour, flash, sound) follows the pack station's. */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const root = $("pickconfirm");
  if (!root || !$("pick-scan")) return;
  const urls = JSON.parse($("pickconfirm-urls").textContent);
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  let state = null;
  let queue = Promise.resolve(); // scans reach the server in the order typed

  const readJson = window.OmsScan.readJson;

  function call(name, body) {
    // Accept: a database that could not finish answers JSON (503, retry).
    const init = body === undefined
      ? { credentials: "same-origin", headers: { Accept: "application/json" } }
      : {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-CSRFToken": csrf,
          },
          body: JSON.stringify(body),
        };
    return fetch(urls[name], init)
      .then(readJson)
      .catch(() => ({ ok: false, error: "The server cannot be reached; scan again." }));
  }

  function say(kind, text) {
    window.OmsScan.say(root, $("pick-feedback"), kind, text);
  }

  function render(next) {
    state = next;
    const short = next.units_short ? `, ${next.units_short} short` : "";
    $("pick-progress").textContent = `${next.units_picked} of ${next.units_expected} units picked${short}`;
    $("pick-bin").textContent = next.bin || "—";
    const body = $("pick-lines").tBodies[0];
    body.replaceChildren();
    next.lines.forEach((line) => {
      const row = body.insertRow();
      row.dataset.key = line.key;
      row.dataset.sku = line.sku;
      const classes = [];
      if (line.picked >= line.expected) classes.push("done");
      else if (line.short) classes.push("short");
      if (line.key === next.current) classes.push("current");
      row.className = classes.join(" ");
      [line.bin || "—", line.sku, line.name, line.shipment].forEach((text) => {
        row.insertCell().textContent = text;
      });
      const count = row.insertCell();
      count.className = "count";
      count.textContent = `${line.picked} / ${line.expected}`;
      row.insertCell().textContent = line.short ? String(line.short) : "";
    });
    const done = next.confirmed;
    $("pick-scan").disabled = done;
    $("pick-short").disabled = done || !next.current;
    $("pick-finish").disabled = done || !next.complete;
  }

  function focusNext() {
    if (!state || state.confirmed) return;
    if (state.complete) $("pick-finish").focus();
    else $("pick-scan").focus();
  }

  async function scan(code) {
    if (!code) return;
    const answer = await call("scan", { code: code });
    if (!answer.ok) {
      say("refused", answer.error);
      return;
    }
    render(answer.state);
    say(answer.accepted ? "ok" : "refused", answer.message);
    focusNext();
  }

  async function markShort() {
    if (!state || !state.current) return;
    const line = state.lines.find((row) => row.key === state.current);
    const answer = await call("short", { shipment: line.shipment_id, order_line: line.order_line });
    if (!answer.ok) {
      say("refused", answer.error);
      return;
    }
    render(answer.state);
    say("info", answer.message);
    focusNext();
  }

  async function finish() {
    if (!state || state.confirmed) return;
    const answer = await call("finish", {});
    if (!answer.ok) {
      say("refused", answer.error);
      $("pick-scan").focus();
      return;
    }
    render(answer.state);
    say("ok", answer.message);
  }

  $("pick-scan").addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const code = event.target.value.trim();
    event.target.value = "";
    queue = queue.then(() => scan(code));
  });
  $("pick-short").addEventListener("click", () => {
    queue = queue.then(markShort);
  });
  $("pick-finish").addEventListener("click", () => {
    queue = queue.then(finish);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "F8") {
      event.preventDefault();
      queue = queue.then(markShort);
    } else if (event.key === "F9") {
      event.preventDefault();
      queue = queue.then(finish);
    }
  });

  call("state").then((answer) => {
    if (!answer.ok) {
      say("refused", answer.error);
      return;
    }
    render(answer.state);
    if (answer.state.confirmed) say("info", "This pick list is confirmed.");
    else if (answer.state.bin) say("info", `Bin ${answer.state.bin} scanned: scan the item.`);
    focusNext();
  });
})();
