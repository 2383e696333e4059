/* Times in the reader's clock: every <time datetime="...Z"> of the page (the server writes them in UTC and
   says so) is shown in the browser's local time with its zone, e.g. "2026-01-02 12:04:05 GMT+9", and keeps
   the UTC time in its tooltip. Times added later (a live page's updates) are localised as they arrive. */
(function () {
  'use strict';
  var zone = new Intl.DateTimeFormat(undefined, {timeZoneName: 'short'});

  function two(number) { return number < 10 ? '0' + number : String(number); }

  function zoneName(moment) {
    var part = zone.formatToParts(moment).filter(function (item) { return item.type === 'timeZoneName'; })[0];
    return part ? part.value : '';
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
  new MutationObserver(function (changes) {
    changes.forEach(function (change) { Array.prototype.forEach.call(change.addedNodes, localiseAll); });
  }).observe(document.body, {childList: true, subtree: true});
  window.BrevettiTime = {localise: localiseAll, localText: localText};
}());
