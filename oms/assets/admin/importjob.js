/* An import running in the background (templates/admin/orders/order/
 * import_job.html): ask its status every second and show the progress; reload
 * the page when it has finished, or say why nothing runs it. The status
 * address is the script tag's data-status-url. */
(function () {
  "use strict";
  var script = document.currentScript;
  var statusUrl = script && script.dataset.statusUrl;
  if (!statusUrl) { return; }

  (function poll() {
    fetch(statusUrl, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        document.getElementById("import-progress").value = s.percent;
        document.getElementById("import-stage").textContent = (s.stage || "waiting for a worker") + ": " + s.processed + " / " + s.total;
        if (s.notice) {
          // Nothing will run the job: stop polling and say what to do.
          var notice = document.getElementById("import-notice");
          notice.textContent = s.notice + ". Reload this page once a worker runs.";
          notice.hidden = false;
        } else if (s.finished) {
          window.location.reload();
        } else {
          setTimeout(poll, 1000);
        }
      })
      .catch(function () { setTimeout(poll, 3000); });
  })();
})();
