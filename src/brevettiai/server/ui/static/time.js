/* Times in the reader's clock: every <time datetime="...Z"> of the page (the server writes them in UTC and
   says so) is shown in the browser's local time with its zone, e.g. "2026-01-02 12:04:05 UTC+9", and keeps
   the UTC time in its tooltip. A live page localises the times it adds with BrevettiTime.localise(element). */
(function () {
  'use strict';
  function two(number) { return number < 10 ? '0' + number : String(number); }

  /* The zone as its offset from UTC ("UTC+9", "UTC-3:30", "UTC"): unambiguous, and cheap (Intl's zone
     names cost a page ~0.1 s of CPU on first use). */
  function zoneName(moment) {
    var offset = -moment.getTimezoneOffset();
    if (!offset) { return 'UTC'; }
    var hours = Math.floor(Math.abs(offset) / 60), minutes = Math.abs(offset) % 60;
    return 'UTC' + (offset > 0 ? '+' : '-') + hours + (minutes ? ':' + two(minutes) : '');
  }

  function localText(moment) {
    return moment.getFullYear() + '-' + two(moment.getMonth() + 1) + '-' + two(moment.getDate()) + ' ' +
      two(moment.getHours()) + ':' + two(moment.getMinutes()) + ':' + two(moment.getSeconds()) + ' ' + zoneName(moment);
  }

  function localise(element) {
    var value = element.getAttribute('datetime');
    if (!value || element.getAttribute('data-localised') === value) { return; }
    var moment = new Date(value);
    if (isNaN(moment.getTime())) { return; }
    element.textContent = localText(moment);
    element.title = moment.toISOString().replace('.000Z', 'Z') + ' (UTC)';
    element.setAttribute('data-localised', value);
  }

  function localiseAll(root) {
    if (root.matches && root.matches('time[datetime]')) { localise(root); }
    if (root.querySelectorAll) { Array.prototype.forEach.call(root.querySelectorAll('time[datetime]'), localise); }
  }

  localiseAll(document);
  // A script that adds times calls this (not a MutationObserver: charts add thousands of nodes).
  window.BrevettiTime = {localise: localiseAll, localText: localText};
}());
