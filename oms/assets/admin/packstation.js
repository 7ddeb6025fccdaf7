/* The pack station (Fulfilment › Pack station): a barcode scanner types a
 * code and Enter; every scan goes to the server, which stores it with the
 * shipment and answers JSON. No mouse needed:
 *   Enter after a scan, 5*CODE counts five, F8 item missing, F9 take over,
 *   Esc closes the shipment. The station's name stays in this browser
 *   (localStorage); the open shipment survives a refresh (sessionStorage). */
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
  let queue = Promise.resolve(); // scans reach the server in the order typed

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
    const finish = $("pack-finish");
    if (state.complete && !finishShown) {
      finishShown = true;
      $("pack-weight").value = String(state.weight_g);
      $("pack-parcels").value = "1";
      fillSelect($("pack-box"), options.boxes, null, true);
      const carriers = options.carriers;
      fillSelect($("pack-carrier"), carriers, options.carrier || (carriers[0] && carriers[0].id), true);
      $("pack-tracking").value = "";
      $("pack-manual").hidden = options.easypost;
      $("pack-easypost").hidden = !options.easypost;
      $("pack-submit").textContent = options.easypost
        ? "Pack, buy the label and print (Enter)"
        : "Pack, ship and print (Enter)";
      finish.hidden = false;
      $("pack-weight").focus();
      $("pack-weight").select();
    } else if (!state.complete) {
      finishShown = false;
      finish.hidden = true;
    }
  }

  function closeShipment(message) {
    current = null;
    finishShown = false;
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
    render(answer.state, answer.options);
    say("info", `Shipment ${answer.state.shipment.number} open${takeOver ? " (taken over)" : ""}: scan each item.`);
    if (!answer.state.complete) $("item-scan").focus();
  }

  async function scanItem(code) {
    if (!current || !code) return;
    const answer = await post("scan", { shipment: current.shipment.id, code: code });
    if (!answer.ok) {
      say("refused", answer.error);
      if (answer.busy) closeShipment();
      return;
    }
    render(answer.state);
    say(answer.accepted ? "ok" : "refused", answer.message);
    if (!answer.state.complete) $("item-scan").focus();
  }

  async function missing() {
    if (!current) return;
    const answer = await post("missing", { shipment: current.shipment.id });
    if (!answer.ok) {
      say("refused", answer.error);
      return;
    }
    render(answer.state);
    say("info", `Shipping short: the missing units stay reserved in shipment ${answer.state.remainder}. Pack what is scanned.`);
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
      if (event.key !== "Enter") return;
      event.preventDefault();
      const code = input.value.trim();
      input.value = "";
      queue = queue.then(() => handler(code));
    });
  }

  onEnter($("slip-scan"), (code) => openSlip(code, false));
  onEnter($("item-scan"), scanItem);
  $("pack-finish").addEventListener("submit", (event) => {
    event.preventDefault();
    queue = queue.then(pack);
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
  $("pack-missing").addEventListener("click", () => { queue = queue.then(missing); });
  $("pack-close").addEventListener("click", () => closeShipment("Scan the next packing slip."));
  $("pack-take-over").addEventListener("click", () => {
    queue = queue.then(() => openSlip(busyCode, true));
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "F8") {
      event.preventDefault();
      queue = queue.then(missing);
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
