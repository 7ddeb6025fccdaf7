/* The pack station (Fulfilment › Pack station): a barcode scanner types a
 * code and Enter; every scan goes to the server, which stores it with the
 * shipment and answers JSON. No mouse needed:
 *   Enter after a scan, 5*CODE counts five, F8 item missing (asks first,
 *   can be undone until packed), F9 take over, Esc closes the shipment or
 *   goes back from a question. Enter in weight and parcels moves quietly to
 *   the next box. The station's name stays in this browser (localStorage);
 *   the open shipment survives a refresh (sessionStorage).
 *
 * It forgives the scanner: each read is the text typed before its Enter; a
 * read of two of the shipment's codes run together is counted as two; the
 * weight box takes the focus only once the item box is quiet; an item's code
 * read into the weight or parcels box is scanned as an item (and refused as
 * an over-scan), never packed; another shipment's slip read into the item
 * box offers to open it. The server checks all of it again. */
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const root = $("packstation");
  if (!root) return;
  const urls = JSON.parse($("packstation-urls").textContent);
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const STATION_KEY = "oms-pack-station";
  const OPEN_KEY = "oms-pack-open";

  let station = localStorage.getItem(STATION_KEY) || "";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(station)) {
    station = "st-" + Math.random().toString(36).slice(2, 10);
    localStorage.setItem(STATION_KEY, station);
  }
  $("pack-station-name").textContent = station;

  let current = null; // the open shipment's state
  let options = null; // how it leaves: boxes, carriers, EasyPost, label format
  let busyCode = ""; // the slip another station holds, for F9
  let finishShown = false;
  let short = ""; // the shipment holding a ship-short's units, while undoable
  let asking = null; // the question open: { yes: function }
  let offeredSlip = ""; // another shipment's slip offered to open
  let inFlight = 0; // item reads sent and not answered yet
  let lastKeyAt = 0; // when the last key came (a scanner types fast)
  let quietTimer = null;
  let queue = Promise.resolve(); // scans reach the server in the order typed
  const QUIET_MS = 250; // no key for this long: the scanner has finished

  const url = (name, id) => urls[name].replace("{id}", String(id));

  const readJson = window.OmsScan.readJson;

  function post(name, body) {
    return fetch(urls[name], {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrf,
      },
      body: JSON.stringify(Object.assign({ station: station }, body)),
    })
      .then(readJson)
      .catch(() => ({ ok: false, error: "The server cannot be reached; scan again." }));
  }

  function get(name, id, query) {
    return fetch(url(name, id) + (query || ""), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(readJson)
      .catch(() => ({ ok: false, error: "The server cannot be reached." }));
  }

  // ---- feedback: words, colour and a sound

  function say(kind, text) {
    window.OmsScan.say(root, $("pack-feedback"), kind, text);
  }

  // ---- drawing the shipment

  function fillSelect(select, rows, chosen, keepFirst) {
    while (select.options.length > (keepFirst ? 1 : 0)) select.remove(select.options.length - 1);
    rows.forEach((row) => {
      const option = new Option(row.name, String(row.id));
      option.selected = chosen !== null && chosen !== undefined && String(chosen) === String(row.id);
      select.add(option);
    });
  }

  function render(state, opts) {
    current = state;
    if (opts) options = opts;
    sessionStorage.setItem(OPEN_KEY, String(state.shipment.id));
    $("pack-shipment").hidden = false;
    $("pack-busy").hidden = true;
    $("pack-number").textContent = state.shipment.number;
    $("pack-order").textContent = state.shipment.order;
    $("pack-progress").textContent = `${state.units_scanned} of ${state.units_expected} units scanned`;
    const body = $("pack-lines").tBodies[0];
    body.replaceChildren();
    state.lines.forEach((line) => {
      const row = body.insertRow();
      row.dataset.sku = line.sku;
      row.className = line.scanned >= line.expected ? "done" : "";
      [line.sku, line.name, line.barcode || "—", line.bin || "—"].forEach((text) => {
        row.insertCell().textContent = text;
      });
      const count = row.insertCell();
      count.className = "count";
      count.textContent = `${line.scanned} / ${line.expected}`;
    });
    if (Object.prototype.hasOwnProperty.call(state, "short")) short = state.short || "";
    $("pack-short").hidden = !short;
    $("pack-short-text").textContent = short
      ? `Shipped short: the missing units wait in ${short}.`
      : "";
    const finish = $("pack-finish");
    if (state.complete && !finishShown) {
      finishShown = true;
      $("pack-weight").value = String(state.weight_g);
      $("pack-parcels").value = "1";
      fillSelect($("pack-box"), options.boxes, null, true);
      const carriers = options.carriers;
      fillSelect($("pack-carrier"), carriers, options.carrier || (carriers[0] && carriers[0].id), true);
      fillServices();
      $("pack-tracking").value = "";
      $("pack-manual").hidden = options.easypost;
      $("pack-easypost").hidden = !options.easypost;
      $("pack-submit").textContent = options.easypost
        ? "Pack, buy the label and print (Enter)"
        : "Pack, ship and print (Enter)";
      finish.hidden = false;
    } else if (!state.complete) {
      finishShown = false;
      finish.hidden = true;
    }
    if (state.complete) focusWeightWhenQuiet();
  }

  // The services of the carrier chosen; none to choose when it lists none.
  function fillServices() {
    const chosen = (options.carriers || []).find((c) => String(c.id) === $("pack-carrier").value);
    const services = (chosen && chosen.services) || [];
    fillSelect($("pack-service"), services.map((name) => ({ id: name, name: name })), services[0], false);
    $("pack-service-row").hidden = services.length === 0;
  }

  // Move the focus once the scanner is done: a read still being typed ends
  // in the box it began in (a second read of the last item ends in the item
  // box, an over-scan, not in the weight box). `still` says whether the move
  // is still wanted when the keys stop.
  function focusWhenQuiet(target, still) {
    clearTimeout(quietTimer);
    if (!still()) return;
    const from = document.activeElement;
    const typing = from && from !== target && from.tagName === "INPUT" && from.value !== "";
    const waited = performance.now() - lastKeyAt;
    if (typing || waited < QUIET_MS || (target === $("pack-weight") && inFlight > 0)) {
      quietTimer = setTimeout(() => focusWhenQuiet(target, still), Math.max(QUIET_MS - waited, 40));
      return;
    }
    if (from === target) return;
    target.focus();
    if (target.select) target.select();
  }

  function focusWeightWhenQuiet() {
    focusWhenQuiet($("pack-weight"), () =>
      !!current && current.complete && !asking && !$("pack-finish").contains(document.activeElement));
  }

  function focusItemWhenQuiet() {
    focusWhenQuiet($("item-scan"), () => !!current && !current.complete && !asking);
  }

  // ---- what a read is: an item's code (as the server reads it)

  const MULTIPLIED = /^\s*(\d{1,4})\s*\*\s*(.*)$/;
  const GTIN_LIKE = /^\d{8,14}$/;
  const WEIGHT = /^\s*(\d+(?:[.,]\d+)?)\s*(kg|g|lb|lbs|oz)?\s*$/i;

  function codesOf(line) {
    return [line.sku, line.barcode].filter(Boolean).map((code) => code.trim().toLowerCase());
  }

  // Return whether text typed into the weight or parcels box is an item scan.
  function itemLike(text) {
    const match = MULTIPLIED.exec(text);
    const code = (match ? match[2] : text).trim().toLowerCase();
    if (!code) return false;
    if (current && current.lines.some((line) => codesOf(line).includes(code))) return true;
    return !!match || GTIN_LIKE.test(code);
  }

  // Split a read into the shipment's codes when two reads ran together
  // (the scanner's Enter lost between them); else the read as it is.
  function splitReads(text) {
    if (!current || MULTIPLIED.test(text)) return [text];
    const codes = [...new Set(current.lines.flatMap(codesOf))].filter(Boolean);
    const lower = text.toLowerCase();
    if (codes.includes(lower)) return [text];
    const parts = [];
    let at = 0;
    while (at < lower.length) {
      const code = codes
        .filter((each) => lower.startsWith(each, at))
        .sort((a, b) => b.length - a.length)[0];
      if (!code) return [text];
      parts.push(text.slice(at, at + code.length));
      at += code.length;
    }
    return parts.length > 1 ? parts : [text];
  }

  // ---- questions: F8 and a slip in the item box ask before acting

  function ask(text, yesLabel, yes) {
    asking = { yes: yes };
    $("pack-confirm-text").textContent = text;
    $("pack-confirm-yes").textContent = yesLabel;
    $("pack-confirm").hidden = false;
    $("pack-confirm-yes").focus();
  }

  function unask(focusItem) {
    if (!asking) return;
    asking = null;
    $("pack-confirm").hidden = true;
    if (focusItem) offeredSlip = ""; // answered "go back": the next read of it asks again
    if (focusItem && current) {
      if (current.complete) focusWeightWhenQuiet();
      else $("item-scan").focus();
    }
  }

  function closeShipment(message) {
    current = null;
    finishShown = false;
    short = "";
    offeredSlip = "";
    unask(false);
    $("pack-short").hidden = true;
    sessionStorage.removeItem(OPEN_KEY);
    $("pack-shipment").hidden = true;
    $("pack-finish").hidden = true;
    $("item-scan").value = "";
    if (message) say("info", message);
    $("slip-scan").focus();
  }

  // ---- the steps

  async function openSlip(code, takeOver) {
    if (!code) return;
    unask(false);
    offeredSlip = "";
    const answer = await post("open", { code: code, take_over: !!takeOver });
    if (!answer.ok) {
      say("refused", answer.error);
      if (answer.busy) {
        busyCode = code;
        $("pack-busy").hidden = false;
      }
      $("slip-scan").focus();
      return;
    }
    busyCode = "";
    finishShown = false;
    short = "";
    render(answer.state, answer.options);
    say("info", `Shipment ${answer.state.shipment.number} open${takeOver ? " (taken over)" : ""}: scan each item.`);
    if (!answer.state.complete) focusItemWhenQuiet();
  }

  async function scanItem(code) {
    if (!current || !code) return;
    inFlight += 1;
    let answer;
    try {
      answer = await post("scan", { shipment: current.shipment.id, code: code });
    } finally {
      inFlight -= 1;
    }
    if (!current) return;
    if (!answer.ok) {
      say("refused", answer.error);
      if (answer.busy) closeShipment();
      return;
    }
    if (answer.slip) {
      render(answer.state);
      offerSlip(answer.slip, answer.message);
      return;
    }
    offeredSlip = "";
    render(answer.state);
    say(answer.accepted ? "ok" : "refused", answer.message);
    if (!answer.state.complete) focusItemWhenQuiet();
  }

  // Another shipment's slip read into the item box: scanned again (or Enter)
  // opens it; this shipment stays open here as it is.
  function offerSlip(number, message) {
    if (offeredSlip === number) {
      queue = queue.then(() => openSlip(number, false));
      return;
    }
    offeredSlip = number;
    say("info", message);
    ask(message, `Open ${number} (Enter)`, () => {
      queue = queue.then(() => openSlip(number, false));
    });
  }

  function askMissing() {
    if (!current || asking) return;
    const gone = current.lines
      .filter((line) => line.scanned < line.expected)
      .map((line) => `${line.expected - line.scanned} × ${line.sku}`);
    if (!gone.length) {
      say("refused", `Every unit of ${current.shipment.number} is scanned: nothing is missing. Pack it.`);
      return;
    }
    ask(
      `Ship ${current.shipment.number} short? Missing: ${gone.join(", ")}. ` +
        "They stay reserved in a new shipment; you can undo this until you pack.",
      "Ship short (Enter)",
      () => { queue = queue.then(missing); },
    );
  }

  async function missing() {
    if (!current) return;
    const answer = await post("missing", { shipment: current.shipment.id });
    if (!answer.ok) {
      say("refused", answer.error);
      return;
    }
    render(answer.state);
    say("info", `Shipping short: the missing units stay reserved in shipment ${answer.state.remainder}. Pack what is scanned, or undo.`);
  }

  async function unshort() {
    if (!current || !short) return;
    const answer = await post("unshort", { shipment: current.shipment.id });
    if (!answer.ok) {
      say("refused", answer.error);
      return;
    }
    render(answer.state);
    say("info", `Ship-short undone: ${answer.state.shipment.number} expects every unit again; scan the rest.`);
    $("item-scan").focus();
  }

  function printLabel(id, number) {
    const href = url("label", id);
    const last = $("pack-last");
    last.href = href;
    last.textContent = `Print the label of ${number} again`;
    last.hidden = false;
    if (root.dataset.canPrint !== "1") return;
    if (options && options.label_format === "ZPL") {
      last.setAttribute("download", `label-${number}.zpl`);
      last.click();
    } else {
      last.removeAttribute("download");
      last.target = "_blank";
      window.open(href, "_blank");
    }
  }

  async function waitForLabel(id, number) {
    for (let attempt = 0; attempt < 120; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, attempt < 10 ? 500 : 1500));
      const answer = await get("progress", id);
      if (answer.ok && answer.shipped) {
        say("ok", `${number} shipped (${answer.tracking}); label printed.`);
        printLabel(id, number);
        return;
      }
      if (answer.ok && answer.error && answer.postage !== "buying") {
        say("refused", `${number} is packed but its label was not bought: ${answer.error}`);
        const last = $("pack-last");
        last.href = url("shipment", id);
        last.textContent = `Open shipment ${number}`;
        last.removeAttribute("download");
        last.hidden = false;
        return;
      }
    }
    say("refused", `${number} is packed; its label is still being bought. Look at the shipment later.`);
  }

  async function pack() {
    if (!current || !current.complete) return;
    if (itemLike($("pack-weight").value.trim()) || itemLike($("pack-parcels").value.trim())) {
      say("refused", "An item's code is in the weight or parcels box: take the extra item out and type them again.");
      $("pack-weight").focus();
      return;
    }
    if (!options.easypost && $("pack-carrier").value && !$("pack-tracking").value.trim()) {
      say("refused", "Scan the tracking number of the carrier's label.");
      $("pack-tracking").focus();
      return;
    }
    const id = current.shipment.id;
    const number = current.shipment.number;
    $("pack-submit").disabled = true;
    const answer = await post("pack", {
      shipment: id,
      weight: $("pack-weight").value,
      packages: $("pack-parcels").value.trim(),
      box: $("pack-box").value,
      carrier: options.easypost ? "" : $("pack-carrier").value,
      service: options.easypost || $("pack-service-row").hidden ? "" : $("pack-service").value,
      tracking: options.easypost ? "" : $("pack-tracking").value.trim(),
    });
    $("pack-submit").disabled = false;
    if (!answer.ok) {
      say("refused", answer.error);
      if (answer.busy) closeShipment();
      return;
    }
    closeShipment();
    if (answer.buying) {
      say("info", answer.message);
      waitForLabel(id, number);
    } else {
      say("ok", `${answer.message} Label printed.`);
      printLabel(id, number);
    }
  }

  // ---- keys

  function onEnter(input, handler) {
    input.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.isComposing) return;
      event.preventDefault();
      // The read is what is in the box now; the next read starts empty.
      const code = input.value.trim();
      input.value = "";
      if (code) queue = queue.then(() => handler(code));
    });
  }

  document.addEventListener("keydown", () => { lastKeyAt = performance.now(); }, true);
  // An item read that reached the slip box while its slip was still opening
  // (reads back to back) is counted as an item of the open shipment.
  onEnter($("slip-scan"), (code) => {
    const lower = (MULTIPLIED.exec(code) || [null, null, code])[2].trim().toLowerCase();
    if (current && current.lines.some((line) => codesOf(line).includes(lower))) {
      return scanItem(code);
    }
    return openSlip(code, false);
  });
  onEnter($("item-scan"), (code) => {
    let chain = Promise.resolve();
    splitReads(code).forEach((read) => { chain = chain.then(() => scanItem(read)); });
    return chain;
  });

  // An item's code in the weight or parcels box is an item read: scanned as
  // such (a complete shipment refuses it as an over-scan); the box gets back
  // what it had.
  function readAsItem(input, before) {
    const text = input.value.trim();
    if (!itemLike(text)) return false;
    input.value = before;
    queue = queue.then(() => scanItem(text));
    return true;
  }

  let weightBefore = "";
  let parcelsBefore = "1";
  $("pack-weight").addEventListener("focus", () => { weightBefore = $("pack-weight").value; });
  $("pack-parcels").addEventListener("focus", () => { parcelsBefore = $("pack-parcels").value; });
  $("pack-weight").addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing) return;
    event.preventDefault();
    const input = $("pack-weight");
    if (readAsItem(input, weightBefore)) return;
    if (!WEIGHT.test(input.value)) {
      say("refused", `${input.value.trim() || "Nothing"} is not a weight: type grams (1250) or kilograms with the unit (1.25 kg).`);
      input.select();
      return;
    }
    weightBefore = input.value;
    $("pack-parcels").focus();
    $("pack-parcels").select();
  });
  $("pack-parcels").addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing) return;
    event.preventDefault();
    const input = $("pack-parcels");
    if (readAsItem(input, parcelsBefore)) return;
    const parcels = input.value.trim();
    if (!/^\d{1,2}$/.test(parcels) || Number(parcels) < 1) {
      say("refused", "Parcels must be a number from 1 to 99.");
      input.select();
      return;
    }
    parcelsBefore = parcels;
    if (!options.easypost && $("pack-carrier").value && !$("pack-tracking").value.trim()) {
      $("pack-tracking").focus();
    } else {
      $("pack-finish").requestSubmit();
    }
  });
  $("pack-tracking").addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing) return;
    const text = $("pack-tracking").value.trim().toLowerCase();
    if (current && current.lines.some((line) => codesOf(line).includes(text))) {
      event.preventDefault();
      $("pack-tracking").value = "";
      queue = queue.then(() => scanItem(text));
    }
  });
  $("pack-carrier").addEventListener("change", fillServices);
  $("pack-finish").addEventListener("submit", (event) => {
    event.preventDefault();
    queue = queue.then(pack);
  });
  $("pack-service").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      $("pack-finish").requestSubmit();
    }
  });
  $("pack-box").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      $("pack-finish").requestSubmit();
    }
  });
  $("pack-carrier").addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      $("pack-finish").requestSubmit();
    }
  });
  $("pack-missing").addEventListener("click", askMissing);
  $("pack-unshort").addEventListener("click", () => { queue = queue.then(unshort); });
  $("pack-confirm-yes").addEventListener("click", () => {
    const question = asking;
    unask(false);
    if (question) question.yes();
  });
  $("pack-confirm-no").addEventListener("click", () => unask(true));
  // A question is answered by Enter or Esc only: a scanner read typed while
  // it is open is no answer, it goes on in the item box (and drops the question).
  $("pack-confirm").addEventListener("keydown", (event) => {
    if (event.key.length !== 1 || event.ctrlKey || event.altKey || event.metaKey) return;
    event.preventDefault();
    unask(false);
    const item = $("item-scan");
    item.focus();
    item.value += event.key;
  });
  $("pack-close").addEventListener("click", () => closeShipment("Scan the next packing slip."));
  $("pack-take-over").addEventListener("click", () => {
    queue = queue.then(() => openSlip(busyCode, true));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "F8") {
      event.preventDefault();
      askMissing();
    } else if (event.key === "Escape" && asking) {
      event.preventDefault();
      unask(true);
    } else if (event.key === "F9" && busyCode) {
      event.preventDefault();
      const code = busyCode;
      queue = queue.then(() => openSlip(code, true));
    } else if (event.key === "Escape" && current) {
      event.preventDefault();
      closeShipment("Scan the next packing slip.");
    }
  });

  // ---- after a refresh: the open shipment comes back as the server has it

  const reopen = sessionStorage.getItem(OPEN_KEY);
  if (reopen && /^\d+$/.test(reopen)) {
    get("state", reopen, "?station=" + encodeURIComponent(station)).then((answer) => {
      if (!answer.ok) {
        closeShipment();
        say("refused", answer.error);
        return;
      }
      render(answer.state, answer.options);
      say("info", `Shipment ${answer.state.shipment.number} is still open here: go on scanning.`);
      if (!answer.state.complete) $("item-scan").focus();
    });
  } else {
    $("slip-scan").focus();
  }
})();
