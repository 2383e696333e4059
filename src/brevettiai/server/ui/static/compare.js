/* The compare view: the runs' progress curves overlaid per metric (charts.js: smoothing, log scale, x axis,
   drag to zoom at full resolution), and a parallel-coordinates chart of the numeric settings that differ
   against a chosen metric. The settings diff and the metrics table are drawn by the server. */
(function () {
  'use strict';
  var root = document.getElementById('compare');
  if (!root || !window.BrevettiCharts) { return; }
  var summary = JSON.parse(document.getElementById('compare-summary').textContent);
  var dataUrl = root.getAttribute('data-url');
  var labels = summary.runs.map(function (run) { return run.label; });
  var MAX_POINTS = 2000;  // per run and series in a zoomed range: every point once the range holds fewer

  var empty = document.getElementById('progress-empty');
  var zoomForm = document.getElementById('progress-zoom');
  var zoomNote = document.getElementById('progress-zoom-note');
  var charts = new BrevettiCharts.ProgressCharts(document.getElementById('compare-charts'),
                                                 {domain: labels, label: 'Progress of ', onZoom: zoomTo});
  var controls = new BrevettiCharts.Controls(document.getElementById('chart-controls'), function (values) {
    charts.configure(values);
  });
  charts.settings = controls.values();
  var whole = null;   // the last answer for the whole runs
  var zoomed = null;  // {start, end, data} while a step range is shown

  // Run colours: the swatches in the runs table match the lines.
  function paintSwatches() {
    if (!BrevettiCharts.hasVega) { return; }
    var colours = vega.scheme(labels.length > 10 ? 'tableau20' : 'category10');
    Array.prototype.forEach.call(document.querySelectorAll('.run-swatch'), function (swatch) {
      swatch.style.backgroundColor = colours[Number(swatch.getAttribute('data-run')) % colours.length];
    });
  }
  paintSwatches();

  function draw() {
    var data = zoomed ? zoomed.data : whole;
    var groups = {};
    summary.metrics.forEach(function (metric) {
      groups[metric] = summary.runs.filter(function (run) {
        return data.series[run.id] && data.series[run.id][metric];
      }).map(function (run) {
        return {line: run.label, points: data.series[run.id][metric]};
      });
    });
    charts.show(groups, zoomed ? zoomed.start + '-' + zoomed.end : '');
  }

  var zoomAsked = 0;  // only the answer to the latest zoom (or "Show all") counts: answers can come in any order

  function zoomTo(start, end) {
    if (!(end >= start) || (zoomed && zoomed.start === start && zoomed.end === end)) { return; }
    var asked = zoomAsked += 1;
    zoomForm.elements.start.value = String(start);
    zoomForm.elements.end.value = String(end);
    var url = dataUrl + '&start_step=' + start + '&end_step=' + end + '&max_points=' + MAX_POINTS;
    BrevettiCharts.fetchJson(url).then(function (data) {
      if (asked !== zoomAsked) { return; }
      zoomed = {start: start, end: end, data: data};
      var exact = Object.keys(data.bucketSteps).every(function (id) {
        return Object.keys(data.bucketSteps[id]).every(function (name) { return data.bucketSteps[id][name] === 1; });
      });
      zoomNote.textContent = 'Steps ' + start + ' to ' + end + (exact ? ', every point.' : ', downsampled.');
      draw();
    }).catch(function (error) { if (asked === zoomAsked) { zoomNote.textContent = 'Could not zoom: ' + error.message; } });
  }

  zoomForm.addEventListener('submit', function (event) {
    event.preventDefault();
    zoomTo(parseInt(zoomForm.elements.start.value, 10), parseInt(zoomForm.elements.end.value, 10));
  });
  zoomForm.querySelector('[data-action="reset"]').addEventListener('click', function () {
    zoomAsked += 1;
    zoomed = null;
    zoomNote.textContent = '';
    zoomForm.elements.start.value = '';
    zoomForm.elements.end.value = '';
    draw();
  });

  function showCharts() {
    if (!summary.metrics.length) { return; }
    empty.hidden = true;
    zoomForm.hidden = false;
    controls.form.hidden = false;
    draw();
  }

  function mark(name) {
    if (window.performance && performance.mark) { performance.mark(name); }
  }

  if (summary.metrics.length) {
    BrevettiCharts.fetchJson(dataUrl, {preloaded: true}).then(function (data) {
      mark('compare: points received');
      whole = data;
      showCharts();
      mark('compare: charts requested');
      follow();
    }).catch(function (error) {
      if (error.message !== 'logged out') { empty.textContent = 'The progress metrics could not be read: ' + error.message; }
    });
  } else {
    whole = {series: {}, cursors: {}};
    follow();
  }

  // Runs still running: their new points, status and end ----------------------------------------------------
  // Every POLL_MS each running run's live.json is asked for the points stored after its cursor (the job
  // page's poll); a run that ended brings the server's runs and metrics tables in (its output.json).
  // Polling stops once every run has ended.
  var POLL_MS = 2000;
  var MAX_ROWS = 4 * 500;  // rows per series the page holds before it asks for the whole runs downsampled again
  var live = (root.getAttribute('data-live') || '').split(',').filter(Boolean);
  var linkOf = {};
  summary.runs.forEach(function (run) { linkOf[run.id] = run.link; });

  function follow() {
    if (live.length) { window.setTimeout(poll, POLL_MS); }
  }

  function merge(id, data, fresh) {
    var own = whole.series[id] = fresh ? {} : (whole.series[id] || {});
    var refetch = false;
    Object.keys(data.series).forEach(function (name) {
      own[name] = (own[name] || []).concat(data.series[name]);
      if (own[name].length > MAX_ROWS) { refetch = true; }
      if (summary.metrics.indexOf(name) < 0) { summary.metrics.push(name); summary.metrics.sort(); }
      if (zoomed) { zoomIn(id, name, data.series[name]); }
    });
    if (data.cursor !== null) { whole.cursors[id] = data.cursor; }
    return refetch;
  }

  /* New points of a run that fall inside the zoomed range join it (a point at a step it has replaces it). */
  function zoomIn(id, name, rows) {
    var inside = rows.filter(function (row) { return row[0] >= zoomed.start && row[0] <= zoomed.end; });
    if (!inside.length) { return; }
    var runSeries = zoomed.data.series[id] || (zoomed.data.series[id] = {});
    var steps = {};
    inside.forEach(function (row) { steps[row[0]] = true; });
    runSeries[name] = (runSeries[name] || []).filter(function (row) { return !steps[row[0]]; }).concat(inside);
  }

  /* The last value of each series a poll brought (the row at its highest step), in the metrics table and
     for the parallel coordinates; the names of the series whose last value changed. */
  function newLastValues(id, data) {
    var index = summary.runs.map(function (run) { return run.id; }).indexOf(id);
    var changed = [];
    Object.keys(data.series).forEach(function (name) {
      var rows = data.series[name];
      if (!rows.length) { return; }
      var last = rows.reduce(function (best, row) { return row[0] >= best[0] ? row : best; });
      var value = typeof last[1] === 'number' && isFinite(last[1]) ? last[1] : null;
      var row = summary.lastValues.filter(function (item) { return item.name === name; })[0];
      if (!row) {
        row = {name: name, values: summary.runs.map(function () { return null; })};
        summary.lastValues.push(row);
        summary.lastValues.sort(function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; });
      }
      if (row.values[index] === value) { return; }
      row.values[index] = value;
      changed.push('last:' + name);
      showLastValue(name, index, value);
    });
    return changed;
  }

  function showLastValue(name, index, value) {
    var table = document.getElementById('compare-outputs');
    if (!table) { return; }
    var row = Array.prototype.filter.call(table.querySelectorAll('tr.last-value'), function (tr) {
      return tr.getAttribute('data-metric') === name;
    })[0];
    if (!row) {
      row = document.createElement('tr');
      row.className = 'last-value';
      row.setAttribute('data-metric', name);
      var head = document.createElement('th');
      head.setAttribute('scope', 'row');
      head.textContent = name + ' ';
      var note = document.createElement('span');
      note.className = 'muted';
      note.textContent = '(last)';
      head.appendChild(note);
      row.appendChild(head);
      summary.runs.forEach(function () { var cell = document.createElement('td'); cell.textContent = '—'; row.appendChild(cell); });
      table.querySelector('tbody').appendChild(row);
    }
    row.querySelectorAll('td')[index].textContent = value === null ? '—' : text(value);
  }

  function showRun(id, data) {
    var row = document.querySelector('#compare-runs tr[data-run-id="' + id + '"]');
    if (!row) { return; }
    var badge = row.querySelector('.run-status .status');
    if (badge && badge.textContent !== data.status) {
      badge.textContent = data.status;
      badge.className = 'status status-' + data.status;
    }
    var completed = row.querySelector('.run-completed');
    if (completed && data.completed && !completed.querySelector('time')) {
      var time = document.createElement('time');
      time.setAttribute('datetime', data.completed);
      time.textContent = data.completed.replace('T', ' ').replace('Z', ' UTC');
      completed.textContent = '';
      completed.appendChild(time);
      if (window.BrevettiTime) { BrevettiTime.localise(time); }
    }
  }

  function refreshTables() {
    // The server draws the tables of ended runs (status, times, outputs): swap in its parts marked data-refresh,
    // and take its outputs and last values for the parallel coordinates.
    return BrevettiCharts.refreshParts(window.location.href)
      .then(function (fresh) {
        paintSwatches();
        var freshSummary = fresh.getElementById('compare-summary');
        if (freshSummary) {
          var latest = JSON.parse(freshSummary.textContent);
          summary.outputs = latest.outputs;
          summary.lastValues = latest.lastValues;
          showParallel(true);
        }
      })
      .catch(function () { /* the runs table keeps what the polls showed */ });
  }

  function poll() {
    var asked = live.slice();
    Promise.all(asked.map(function (id) {
      var cursor = whole.cursors[id];
      var url = linkOf[id] + '/live.json?max_points=500' + (cursor === null || cursor === undefined ? '' : '&after=' + cursor);
      return BrevettiCharts.fetchJson(url).then(function (data) { return {id: id, data: data, fresh: cursor === null || cursor === undefined}; });
    })).then(function (answers) {
      var grew = false, ended = false, refetch = false, changed = [];
      answers.forEach(function (answer) {
        if (Object.keys(answer.data.series).length) { grew = true; }
        refetch = merge(answer.id, answer.data, answer.fresh) || refetch;
        changed = changed.concat(newLastValues(answer.id, answer.data));
        showRun(answer.id, answer.data);
        if (answer.data.terminal) { ended = true; live.splice(live.indexOf(answer.id), 1); }
      });
      root.setAttribute('data-polls', String(Number(root.getAttribute('data-polls') || 0) + 1));
      var next = refetch ? BrevettiCharts.fetchJson(dataUrl).then(function (data) { whole = data; }) : Promise.resolve();
      return next.then(function () {
        if (grew || refetch) { showCharts(); }
        if (changed.length) { showParallel(changed); }
        if (ended) { return refreshTables(); }
      });
    }).then(function () {
      if (live.length) { window.setTimeout(poll, POLL_MS); } else { root.setAttribute('data-live', ''); }
    }).catch(function (error) {
      if (error.message !== 'logged out') { window.setTimeout(poll, 3 * POLL_MS); }
    });
  }

  // Parallel coordinates ------------------------------------------------------------------------------------
  // One line per run across the numeric settings that differ and the chosen metric (an output, or a series'
  // last value: those of running runs follow their polls).
  var parallelForm = document.getElementById('parallel-form');
  var parallelEmpty = document.getElementById('parallel-empty');
  var parallelElement = document.getElementById('parallel-chart');
  var parallelSelect = parallelForm.elements.metric;
  var parallelView = null, parallelVersion = 0;

  function isNumber(value) { return typeof value === 'number' && isFinite(value); }

  var axes = summary.settings.filter(function (row) {
    var present = row.values.filter(isNumber);
    return row.numeric && present.length >= 2;
  });

  function metricChoices() {
    var choices = [];
    summary.outputs.forEach(function (row) {
      if (row.values.some(isNumber)) { choices.push({key: 'output:' + row.name, title: row.name, values: row.values}); }
    });
    summary.lastValues.forEach(function (row) {
      if (row.values.some(isNumber)) { choices.push({key: 'last:' + row.name, title: row.name + ' (last)', values: row.values}); }
    });
    return choices;
  }

  function text(number) { return String(+number.toPrecision(6)); }

  /* The Vega spec of the parallel coordinates and its data. */
  function parallelOf(metric) {
    var rows = [], ticks = [];
    var columns = axes.map(function (row) { return {title: row.label, values: row.values}; });
    columns.push({title: metric.title, values: metric.values});
    columns.forEach(function (column) {
      var present = column.values.filter(isNumber);
      var low = Math.min.apply(null, present), high = Math.max.apply(null, present);
      ticks.push({axis: column.title, y: 1, dy: 2, baseline: 'top', text: text(high)});
      ticks.push({axis: column.title, y: 0, dy: -2, baseline: 'bottom', text: text(low)});
      column.values.forEach(function (value, index) {
        if (!isNumber(value)) { return; }
        var tip = {run: labels[index], setting: column.title, value: value};
        tip[metric.title] = isNumber(metric.values[index]) ? metric.values[index] : null;
        rows.push({run: labels[index], axis: column.title, value: value, tip: tip,
                   norm: high === low ? 0.5 : (value - low) / (high - low),
                   metric: isNumber(metric.values[index]) ? metric.values[index] : null});
      });
    });
    var order = columns.map(function (column) { return column.title; });
    var x = {scale: 'x', field: 'axis'};
    var spec = {
      $schema: 'https://vega.github.io/schema/vega/v6.json',
      background: 'white', padding: 5, width: parallelElement.clientWidth || 600, height: 240,
      autosize: {type: 'fit-x', contains: 'padding'},
      data: [{name: 'axes'}, {name: 'rows'}, {name: 'ticks'}],
      scales: [
        {name: 'x', type: 'point', domain: order, range: 'width', padding: 0.4},
        {name: 'y', type: 'linear', domain: [0, 1], range: 'height'},
        {name: 'color', type: 'linear', domain: {data: 'rows', field: 'metric'}, range: {scheme: 'viridis'}, zero: false}
      ],
      axes: [{scale: 'x', orient: 'bottom', labelAngle: 0, labelLimit: 160, domain: false, ticks: false, labelPadding: 8}],
      legends: [{fill: 'color', type: 'gradient', orient: 'bottom', direction: 'horizontal', gradientLength: 160,
                 title: metric.title}],
      marks: [
        {type: 'rule', from: {data: 'axes'}, encode: {update: {x: x, y: {value: 0}, y2: {signal: 'height'}, stroke: {value: '#999'}}}},
        {type: 'group', name: 'runs', from: {facet: {name: 'run_rows', data: 'rows', groupby: 'run'}},
         encode: {update: {width: {field: {group: 'width'}}, height: {field: {group: 'height'}}}},
         marks: [{type: 'line', name: 'run_line', from: {data: 'run_rows'}, encode: {update: {
           x: x, y: {scale: 'y', field: 'norm'}, strokeWidth: {value: 2}, tooltip: {field: 'tip'},
           stroke: [{test: 'datum.metric === null', value: '#aaa'}, {scale: 'color', field: 'metric'}]}}}]},
        {type: 'text', from: {data: 'ticks'}, encode: {update: {
          x: x, y: {scale: 'y', field: 'y'}, text: {field: 'text'}, dx: {value: 5}, dy: {field: 'dy'},
          align: {value: 'left'}, baseline: {field: 'baseline'}, fontSize: {value: 10}, fill: {value: '#555'}}}}
      ]
    };
    return {spec: spec, data: {axes: order.map(function (axis) { return {axis: axis}; }), rows: rows, ticks: ticks}};
  }

  function drawParallel() {
    var key = parallelSelect.value;
    var metric = metricChoices().filter(function (choice) { return choice.key === key; })[0];
    if (!metric || !BrevettiCharts.hasVega) { return; }
    var drawing = parallelOf(metric);
    var version = parallelVersion += 1;
    parallelElement.vegaSpec = drawing.spec;
    parallelElement.vegaData = drawing.data;
    parallelElement.setAttribute('data-rendered', 'false');
    BrevettiCharts.render(parallelElement, drawing.spec, drawing.data).then(function (view) {
      if (version !== parallelVersion) { view.finalize(); return; }
      if (parallelView) { parallelView.finalize(); }
      parallelView = view;
      parallelElement.setAttribute('data-axes', String(axes.length + 1));
      parallelElement.setAttribute('data-metric', metric.key);
      parallelElement.setAttribute('data-rendered', 'true');
    }).catch(function (error) {
      parallelElement.setAttribute('data-rendered', 'error');
      parallelElement.textContent = 'The chart could not be drawn: ' + error.message;
    });
  }

  /* The metric menu holds every choice (new ones appear as runs record them); the chart is drawn again when
     its metric's values changed (`changed`: keys of choices whose values changed, or true for all). */
  function showParallel(changed) {
    var choices = metricChoices();
    if (!axes.length || !choices.length) {
      parallelEmpty.hidden = false;
      parallelEmpty.textContent = !axes.length ? 'No numeric setting differs between these runs.'
        : 'These runs have no numeric metric to set the settings against.';
      return;
    }
    parallelEmpty.hidden = true;
    var chosen = parallelSelect.value;
    var known = Array.prototype.map.call(parallelSelect.options, function (option) { return option.value; });
    if (known.join('\n') !== choices.map(function (choice) { return choice.key; }).join('\n')) {
      parallelSelect.textContent = '';
      choices.forEach(function (choice) {
        var option = document.createElement('option');
        option.value = choice.key;
        option.textContent = choice.title;
        parallelSelect.appendChild(option);
      });
      if (choices.some(function (choice) { return choice.key === chosen; })) { parallelSelect.value = chosen; }
    }
    parallelForm.hidden = false;
    if (changed === true || parallelSelect.value !== chosen || (changed && changed.indexOf(parallelSelect.value) >= 0)) {
      drawParallel();
    }
  }

  parallelSelect.addEventListener('change', drawParallel);
  showParallel(true);
  var resizeTimer = null;
  window.addEventListener('resize', function () {  // drawn again at the new width once the resizing settled
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () {
      if (parallelElement.vegaSpec && parallelElement.clientWidth !== parallelElement.vegaSpec.width) { drawParallel(); }
    }, 250);
  });
}());
