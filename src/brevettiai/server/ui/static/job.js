/* The model page: live status and progress charts (polling live.json every second, zoomable; charts.js), and
   the job's own Vega-Lite charts (vega-embed with its expression interpreter: no eval, the page's CSP allows
   none; they may only load data from the job's artifacts). The page loads Vega-Lite and vega-embed only when
   the job has charts of its own. */
(function () {
  'use strict';
  var root = document.getElementById('job');
  if (!root) { return; }
  var liveUrl = root.getAttribute('data-live-url');
  var terminalAtLoad = root.getAttribute('data-terminal') === 'true';
  var artifactsBase = root.getAttribute('data-artifacts-base');
  var fetchJson = window.BrevettiCharts ? BrevettiCharts.fetchJson : null;

  if (window.history && window.history.replaceState && window.location.search.indexOf('created=') >= 0) {
    window.history.replaceState(null, '', window.location.pathname);  // the key is shown once: not on reload
  }

  function embedOptions() {
    return {actions: false, renderer: 'svg', ast: true, logLevel: vega.Error,
            loader: vega.loader({baseURL: artifactsBase}), config: {font: 'system-ui, sans-serif'}};
  }

  // The charts the job uploaded -----------------------------------------------------------------------
  var chartScripts = null;  // a promise: Vega-Lite and vega-embed loaded (the page has them when it had charts)

  function loadChartScripts() {
    if (typeof window.vegaEmbed === 'function') { return Promise.resolve(); }
    if (!chartScripts) {
      chartScripts = (root.getAttribute('data-chart-scripts') || '').split(' ').filter(Boolean)
        .reduce(function (loaded, src) {
          return loaded.then(function () {
            return new Promise(function (resolve, reject) {
              var script = document.createElement('script');
              script.src = src;
              script.onload = resolve;
              script.onerror = function () { reject(new Error('could not load ' + src)); };
              document.body.appendChild(script);
            });
          });
        }, Promise.resolve());
    }
    return chartScripts;
  }

  function drawJobCharts() {
    var specsElement = document.getElementById('job-charts');
    if (!specsElement || typeof window.vega !== 'object') { return; }
    var specs = JSON.parse(specsElement.textContent);
    var elements = document.querySelectorAll('.vega-chart[data-chart]');
    loadChartScripts().then(function () {
      Array.prototype.forEach.call(elements, function (element) {
        var spec = specs[element.getAttribute('data-chart')];
        vegaEmbed(element, spec, embedOptions()).then(function () {
          element.setAttribute('data-rendered', 'true');
        }).catch(function (error) {
          element.setAttribute('data-rendered', 'error');
          element.textContent = 'This chart could not be drawn: ' + error.message;
        });
      });
    }).catch(function (error) {
      Array.prototype.forEach.call(elements, function (element) {
        element.setAttribute('data-rendered', 'error');
        element.textContent = 'The charts could not be drawn: ' + error.message;
      });
    });
  }
  drawJobCharts();

  // Progress charts from the metric points ----------------------------------------------------------------
  // The server answers long series as min/max step buckets (bucketSteps > 1) of at most ~2,000 rows;
  // polls ask only for the points stored after the last answer's cursor. Zooming to a step range asks
  // the server for that range again, point for point once it is short enough. Drawing, smoothing, log
  // scale, the x axis and dragging to zoom are charts.js's.
  var MAX_POINTS = 2000;
  var series = {};      // metric name -> {step: [step, value, time]} (the whole run)
  var zoomed = null;    // {start, end, series: {name: rows}} while a step range is shown
  var cursor = null;    // the newest stored point the page has (the server's cursor)
  var refetch = false;  // the page holds too many points: ask for the whole run downsampled again
  var container = document.getElementById('progress-charts');
  var empty = document.getElementById('progress-empty');
  var zoomForm = document.getElementById('progress-zoom');
  var zoomNote = document.getElementById('progress-zoom-note');
  var charts = container && window.BrevettiCharts ? new BrevettiCharts.ProgressCharts(container, {onZoom: zoomTo}) : null;
  var controls = charts ? new BrevettiCharts.Controls(document.getElementById('chart-controls'), function (values) {
    charts.configure(values);
  }) : null;
  if (charts) { charts.settings = controls.values(); }

  /* train_loss and test_loss share the "loss" chart; the job's system/... series share charts of their
     own ("system/percent"), never one of the job's metrics. */
  function groupOf(name) {
    var system = name.indexOf(SYSTEM) === 0, rest = system ? name.slice(SYSTEM.length) : name;
    var cut = rest.lastIndexOf('_');
    var group = cut > 0 && cut < rest.length - 1 ? rest.slice(cut + 1) : rest;
    return system ? SYSTEM + group : group;
  }

  var SYSTEM = 'system/';

  function merge(update, replace) {
    if (replace) { series = {}; }
    Object.keys(update || {}).forEach(function (name) {
      var points = series[name] || (series[name] = {});
      update[name].forEach(function (point) { points[point[0]] = point; });
      if (Object.keys(points).length > 2 * MAX_POINTS) { refetch = true; }
      if (zoomed && !replace) { zoomIn(name, update[name]); }
    });
  }

  /* New points inside the zoomed range join it while zoomed (a point at a step it has replaces it). */
  function zoomIn(name, points) {
    var inside = points.filter(function (point) { return point[0] >= zoomed.start && point[0] <= zoomed.end; });
    if (!inside.length) { return; }
    var steps = {};
    inside.forEach(function (point) { steps[point[0]] = true; });
    zoomed.series[name] = (zoomed.series[name] || []).filter(function (point) { return !steps[point[0]]; }).concat(inside);
  }

  function draw() {
    if (!charts) { return; }
    var groups = {};
    Object.keys(series).sort().forEach(function (name) {
      var points = zoomed ? (zoomed.series[name] || []) : Object.keys(series[name]).map(function (step) { return series[name][step]; });
      (groups[groupOf(name)] = groups[groupOf(name)] || []).push({line: name, points: points});
    });
    var names = Object.keys(groups);
    if (names.length && empty) { empty.hidden = true; }
    if (names.length && zoomForm) { zoomForm.hidden = false; }
    if (names.length && controls.form) { controls.form.hidden = false; }
    charts.show(groups, zoomed ? zoomed.start + '-' + zoomed.end : '');
  }

  // Zoom: drag across a chart, or type a step range ---------------------------------------------------
  var zoomAsked = 0;  // only the answer to the latest zoom (or "Show all") counts: answers can come in any order

  function zoomTo(start, end) {
    if (!(end >= start)) { return; }
    if (zoomed && zoomed.start === start && zoomed.end === end) { return; }
    var asked = zoomAsked += 1;
    if (zoomForm) {
      zoomForm.elements.start.value = String(start);
      zoomForm.elements.end.value = String(end);
    }
    var url = liveUrl + '?start_step=' + start + '&end_step=' + end + '&max_points=' + MAX_POINTS;
    fetchJson(url).then(function (data) {
      if (asked !== zoomAsked) { return; }
      zoomed = {start: start, end: end, series: data.series};
      if (zoomNote) {
        var exact = Object.keys(data.bucketSteps).every(function (name) { return data.bucketSteps[name] === 1; });
        zoomNote.textContent = 'Steps ' + start + ' to ' + end + (exact ? ', every point.' : ', downsampled.');
      }
      draw();
    }).catch(function () { /* the next poll shows what is wrong */ });
  }

  function resetZoom() {
    zoomAsked += 1;
    zoomed = null;
    if (zoomNote) { zoomNote.textContent = ''; }
    if (zoomForm) { zoomForm.elements.start.value = ''; zoomForm.elements.end.value = ''; }
    draw();
  }

  if (zoomForm) {
    zoomForm.addEventListener('submit', function (event) {
      event.preventDefault();
      zoomTo(parseInt(zoomForm.elements.start.value, 10), parseInt(zoomForm.elements.end.value, 10));
    });
    zoomForm.querySelector('[data-action="reset"]').addEventListener('click', resetZoom);
  }

  // Status ----------------------------------------------------------------------------------------------
  var statusElement = document.getElementById('job-status');

  function showTime(id, value) {
    var element = document.getElementById(id);
    if (!element || !value) { return; }
    var shown = element.querySelector('time');
    if (shown && shown.getAttribute('datetime') === value) { return; }  // time.js has localised it
    var time = document.createElement('time');
    time.setAttribute('datetime', value);
    time.textContent = value.replace('T', ' ').replace('Z', ' UTC');  // as the server writes times
    element.textContent = '';
    element.appendChild(time);
    if (window.BrevettiTime) { BrevettiTime.localise(time); }
  }

  function showStatus(data) {
    if (statusElement && statusElement.textContent !== data.status) {
      statusElement.textContent = data.status;
      statusElement.className = 'status status-' + data.status;
      root.setAttribute('data-status', data.status);
    }
    showTime('job-started', data.started);
    showTime('job-completed', data.completed);
  }

  function finished() {
    // What a finished job has (buttons, times, error, results, charts, reports, environment) is drawn by the
    // server: fetch the page and swap in its parts marked data-refresh. The key box, the progress charts
    // and whatever else is on the page stay as they are: no reload.
    BrevettiCharts.refreshParts(window.location.pathname)
      .then(function (fresh) {
        var terminalEmpty = fresh.getElementById('progress-empty');
        if (empty && terminalEmpty && !empty.hidden) { empty.textContent = terminalEmpty.textContent; }
        drawJobCharts();
        root.setAttribute('data-refreshed', 'true');
      })
      .catch(function () {
        var note = document.createElement('p');
        note.className = 'flash';
        note.setAttribute('role', 'status');
        note.appendChild(document.createTextNode('The job has ended. '));
        var link = document.createElement('a');
        link.href = window.location.pathname;
        link.textContent = 'Reload the page to see its results';
        note.appendChild(link);
        root.parentNode.insertBefore(note, root.nextSibling);
      });
  }

  function poll() {
    var whole = cursor === null || refetch;
    fetchJson(liveUrl + (whole ? '' : '?after=' + encodeURIComponent(String(cursor))))
      .then(function (data) {
        refetch = false;
        merge(data.series, whole);
        if (data.cursor !== null) { cursor = data.cursor; }
        draw();
        showStatus(data);
        if (data.terminal) {
          if (!terminalAtLoad) { finished(); }
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function (error) {
        if (error.message !== 'logged out') { window.setTimeout(poll, 3000); }
      });
  }

  poll();
}());
