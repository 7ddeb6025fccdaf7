/* What the pack station and pick confirmation share: reading the server's
 * JSON answer, and the feedback a scan gets — words, colour, a flash of the
 * page when refused, and a sound (high and short accepted, low and long
 * refused). Loaded before packstation.js and pickconfirm.js. */
window.OmsScan = (function () {
  "use strict";

  async function readJson(response) {
    try {
      return await response.json();
    } catch (error) {
      return { ok: false, error: `The server answered ${response.status}; try again.` };
    }
  }

  let audio = null;
  function beep(ok) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = ok ? "sine" : "square";
      oscillator.frequency.value = ok ? 880 : 180;
      gain.gain.value = ok ? 0.08 : 0.2;
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start();
      oscillator.stop(audio.currentTime + (ok ? 0.08 : 0.45));
    } catch (error) {
      /* no sound on this machine: the colour still tells */
    }
  }

  // Show `text` in `box` as `kind` (ok, refused, info); `root` flashes when refused.
  function say(root, box, kind, text) {
    box.className = kind;
    box.textContent = text;
    root.classList.remove("flash-refused");
    if (kind === "refused") {
      beep(false);
      void root.offsetWidth; // restart the flash
      root.classList.add("flash-refused");
    } else if (kind === "ok") {
      beep(true);
    }
    // For whoever listens (the browser journeys count the refusals).
    root.dispatchEvent(new CustomEvent("oms-scan-feedback", { detail: { kind: kind, text: text } }));
  }

  return { readJson: readJson, beep: beep, say: say };
})();
