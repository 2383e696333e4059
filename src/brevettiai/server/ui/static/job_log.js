// The live log of a job's page: polls log.json from the last byte read while the job runs, appends
// the new text (as text, never as HTML), keeps the end in view while "Follow" is ticked, and stops
// once the job has ended and its whole log was read.
(function () {
  "use strict";
  var section = document.getElementById("job-log");
  if (!section) return;
  var pre = document.getElementById("log-text");
  var follow = document.getElementById("log-follow");
  var state = document.getElementById("log-state");
  var size = document.getElementById("log-size");
  var empty = document.getElementById("log-empty");
  var url = section.getAttribute("data-log-url");
  var next = parseInt(section.getAttribute("data-next-offset"), 10) || 0;
  var MAX_SHOWN = 2 * 1024 * 1024; // characters kept in the page; the download has all of it
  var POLL_MS = 1000;
  var endedPolls = 0;

  function scrollToEnd() {
    if (follow && follow.checked) pre.scrollTop = pre.scrollHeight;
  }

  function show(answer, requested) {
    if (answer.exists && empty) { empty.remove(); empty = null; }
    var text = answer.offset === requested ? pre.textContent + answer.text : answer.text;
    if (text.length > MAX_SHOWN) text = text.slice(text.length - MAX_SHOWN);
    if (text !== pre.textContent) { pre.textContent = text; scrollToEnd(); }
    next = answer.nextOffset;
    section.setAttribute("data-next-offset", String(next));
    if (size) size.textContent = "(" + formatSize(answer.size) + ")";
  }

  function formatSize(bytes) {
    if (bytes < 1024) return bytes + " B";
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + " KiB";
    return (bytes / 1024 / 1024).toFixed(1) + " MiB";
  }

  function poll() {
    var requested = next;
    fetch(url + "?offset=" + requested, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) {
        if (!answer) { setTimeout(poll, POLL_MS * 3); return; }
        show(answer, requested);
        if (answer.nextOffset < answer.size) { setTimeout(poll, 50); return; } // more is waiting: read on
        if (answer.complete) {
          // the runner may still store the last lines (or upload the log) just after the job ends
          endedPolls += 1;
          if (endedPolls <= 2) { setTimeout(poll, 1500); return; }
          section.setAttribute("data-active", "false");
          if (state) state.textContent = "The job has ended; this is its whole output.";
          return;
        }
        setTimeout(poll, POLL_MS);
      })
      .catch(function () { setTimeout(poll, POLL_MS * 3); });
  }

  scrollToEnd();
  if (section.getAttribute("data-active") === "true") setTimeout(poll, POLL_MS);
})();
