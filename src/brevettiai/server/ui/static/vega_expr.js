/* Vega's expressions without eval, fast: a drop-in for the expression interpreter vega-embed brings
   (vega-interpreter, its `ast: true` mode, which the pages' CSP needs) that gives the same answers but
   turns each expression's syntax tree into nested closures once. The interpreter walks the tree again
   and builds a fresh context (a closure, a function table and six event functions) for every channel of
   every point drawn, which made most of a progress chart's drawing time. Same safeguards: no member,
   object key or value that reaches Function, eval or the timers; only Vega's functions and the builtins.
   Use: vegaEmbed(element, spec, {ast: true, expr: BrevettiVegaExpr}). */
(function () {
  'use strict';
  var CONSTANTS = {NaN: NaN, E: Math.E, LN2: Math.LN2, LN10: Math.LN10, LOG2E: Math.LOG2E, LOG10E: Math.LOG10E,
                   PI: Math.PI, SQRT1_2: Math.SQRT1_2, SQRT2: Math.SQRT2, MIN_VALUE: Number.MIN_VALUE,
                   MAX_VALUE: Number.MAX_VALUE};
  var BINARY = {
    '*': function (a, b) { return a * b; }, '+': function (a, b) { return a + b; },
    '-': function (a, b) { return a - b; }, '/': function (a, b) { return a / b; },
    '%': function (a, b) { return a % b; }, '>': function (a, b) { return a > b; },
    '<': function (a, b) { return a < b; }, '<=': function (a, b) { return a <= b; },
    '>=': function (a, b) { return a >= b; }, '==': function (a, b) { return a == b; },  // eslint-disable-line eqeqeq
    '!=': function (a, b) { return a != b; }, '===': function (a, b) { return a === b; },  // eslint-disable-line eqeqeq
    '!==': function (a, b) { return a !== b; }, '&': function (a, b) { return a & b; },
    '|': function (a, b) { return a | b; }, '^': function (a, b) { return a ^ b; },
    '<<': function (a, b) { return a << b; }, '>>': function (a, b) { return a >> b; },
    '>>>': function (a, b) { return a >>> b; }
  };
  var UNARY = {'+': function (a) { return +a; }, '-': function (a) { return -a; },
               '~': function (a) { return ~a; }, '!': function (a) { return !a; }};
  var slice = Array.prototype.slice;
  function method(name, args, cast) {
    var target = cast ? cast(args[0]) : args[0];
    return target[name].apply(target, slice.call(args, 1));
  }
  function ascending(a, b) {  // Vega's sort order: nulls last, NaN first, dates by time
    if ((a < b || a == null) && b != null) { return -1; }
    if ((a > b || b == null) && a != null) { return 1; }
    b = b instanceof Date ? +b : b;
    a = a instanceof Date ? +a : a;
    return a !== a && b === b ? -1 : b !== b && a === a ? 1 : 0;  // eslint-disable-line no-self-compare
  }
  function getter(name) { return function (value) { return new Date(value)[name](); }; }
  var BUILTINS = {
    isNaN: Number.isNaN, isFinite: Number.isFinite, abs: Math.abs, acos: Math.acos, asin: Math.asin,
    atan: Math.atan, atan2: Math.atan2, ceil: Math.ceil, cos: Math.cos, exp: Math.exp, floor: Math.floor,
    log: Math.log, max: Math.max, min: Math.min, pow: Math.pow, random: Math.random, round: Math.round,
    sin: Math.sin, sqrt: Math.sqrt, tan: Math.tan,
    clamp: function (value, low, high) { return Math.max(low, Math.min(high, value)); },
    now: Date.now, utc: Date.UTC,
    datetime: function (y, m, d, h, mi, s, ms) {
      return typeof y === 'string' ? new Date(y) : new Date(y, m || 0, d === undefined ? 1 : d, h || 0, mi || 0, s || 0, ms || 0);
    },
    date: getter('getDate'), day: getter('getDay'), year: getter('getFullYear'), month: getter('getMonth'),
    hours: getter('getHours'), minutes: getter('getMinutes'), seconds: getter('getSeconds'),
    milliseconds: getter('getMilliseconds'), time: getter('getTime'), timezoneoffset: getter('getTimezoneOffset'),
    utcdate: getter('getUTCDate'), utcday: getter('getUTCDay'), utcyear: getter('getUTCFullYear'),
    utcmonth: getter('getUTCMonth'), utchours: getter('getUTCHours'), utcminutes: getter('getUTCMinutes'),
    utcseconds: getter('getUTCSeconds'), utcmilliseconds: getter('getUTCMilliseconds'),
    length: function (value) { return value.length; },
    join: function () { return method('join', arguments); },
    indexof: function () { return method('indexOf', arguments); },
    lastindexof: function () { return method('lastIndexOf', arguments); },
    slice: function () { return method('slice', arguments); },
    reverse: function (value) { return value.slice().reverse(); },
    sort: function (value) { return value.slice().sort(ascending); },
    parseFloat: parseFloat, parseInt: parseInt,
    upper: function (value) { return String(value).toUpperCase(); },
    lower: function (value) { return String(value).toLowerCase(); },
    substring: function () { return method('substring', arguments, String); },
    split: function () { return method('split', arguments, String); },
    replace: function () { return method('replace', arguments, String); },
    trim: function (value) { return String(value).trim(); },
    btoa: function (value) { return btoa(value); }, atob: function (value) { return atob(value); },
    regexp: RegExp, test: function (pattern, value) { return RegExp(pattern).test(value); }
  };
  var EVENT_FUNCTIONS = ['view', 'item', 'group', 'xy', 'x', 'y'];
  var BLOCKED_VALUES = new Set([Function, eval, setTimeout, setInterval]);  // eslint-disable-line no-eval
  if (typeof setImmediate === 'function') { BLOCKED_VALUES.add(setImmediate); }
  var BLOCKED_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype).filter(function (key) {
    return typeof Object.prototype[key] === 'function';
  }).concat(['__proto__']));

  /* A scope: what an expression reads besides its literals. fn: the function table (Vega's functions,
     with the event functions when there is an event). */
  function Scope(fn, params, datum, event, item) {
    this.fn = fn; this.params = params; this.datum = datum; this.event = event; this.item = item;
  }

  function eventFunctions(functions, event) {
    var fn = Object.create(functions);
    EVENT_FUNCTIONS.forEach(function (name) {
      fn[name] = function () { return event.vega[name].apply(event.vega, arguments); };
    });
    return fn;
  }

  var compiled = new WeakMap();

  /* The closure of a syntax tree node: scope -> value. `name` is set for a member's property name. */
  function compile(node, asName) {
    var cached = !asName && compiled.get(node);
    if (cached) { return cached; }
    var closure = build(node, asName);
    if (!asName) { compiled.set(node, closure); }
    return closure;
  }

  function build(node, asName) {
    switch (node.type) {
      case 'Literal': {
        var value = node.value;
        return function () { return value; };
      }
      case 'Identifier': {
        var name = node.name;
        if (asName) { return function () { return name; }; }
        if (name === 'datum') { return function (scope) { return scope.datum; }; }
        if (name === 'event') { return function (scope) { return scope.event; }; }
        if (name === 'item') { return function (scope) { return scope.item; }; }
        if (Object.prototype.hasOwnProperty.call(CONSTANTS, name)) {
          var constant = CONSTANTS[name];
          return function () { return constant; };
        }
        var param = '$' + name;
        return function (scope) { return scope.params[param]; };
      }
      case 'MemberExpression': {
        var object = compile(node.object);
        var property = node.computed ? compile(node.property) : compile(node.property, true);
        return function (scope) {
          var target = object(scope), key = property(scope), found = target[key];
          if (!BLOCKED_VALUES.has(found)) { return found; }
          console.error('Prevented interpretation of member "' + key + '" which could lead to insecure code execution');
        };
      }
      case 'CallExpression': {
        var callee = node.callee.name;
        if (callee.charAt(0) === '_') { callee = callee.slice(1); }
        var args = node.arguments.map(function (argument) { return compile(argument); });
        if (callee === 'if') {
          return function (scope) { return args[0](scope) ? args[1](scope) : args[2](scope); };
        }
        var count = args.length;
        return function (scope) {
          var fn = scope.fn, own = fn[callee] || BUILTINS[callee];
          if (count === 1) { return own.call(fn, args[0](scope)); }
          if (count === 2) { return own.call(fn, args[0](scope), args[1](scope)); }
          var values = new Array(count);
          for (var i = 0; i < count; i += 1) { values[i] = args[i](scope); }
          return own.apply(fn, values);
        };
      }
      case 'ArrayExpression': {
        var elements = node.elements.map(function (element) { return compile(element); });
        return function (scope) { return elements.map(function (element) { return element(scope); }); };
      }
      case 'BinaryExpression': {
        var operator = BINARY[node.operator], left = compile(node.left), right = compile(node.right);
        return function (scope) { return operator(left(scope), right(scope)); };
      }
      case 'UnaryExpression': {
        var unary = UNARY[node.operator], argument = compile(node.argument);
        return function (scope) { return unary(argument(scope)); };
      }
      case 'ConditionalExpression': {
        var test = compile(node.test), consequent = compile(node.consequent), alternate = compile(node.alternate);
        return function (scope) { return test(scope) ? consequent(scope) : alternate(scope); };
      }
      case 'LogicalExpression': {
        var first = compile(node.left), second = compile(node.right);
        return node.operator === '&&' ? function (scope) { return first(scope) && second(scope); }
          : function (scope) { return first(scope) || second(scope); };
      }
      case 'ObjectExpression': {
        var properties = node.properties.map(function (entry) {
          return {key: compile(entry.key, true), value: compile(entry.value)};
        });
        return function (scope) {
          var result = {};
          properties.forEach(function (entry) {
            var key = entry.key(scope), value = entry.value(scope);
            if (BLOCKED_KEYS.has(key)) {
              console.error('Prevented interpretation of property "' + key + '" which could lead to insecure code execution');
            } else if (BLOCKED_VALUES.has(value)) {
              console.error('Prevented interpretation of method "' + key + '" which could lead to insecure code execution');
            } else {
              result[key] = value;
            }
          });
          return result;
        };
      }
      default:
        throw new Error('Unsupported expression: ' + node.type);
    }
  }

  function evaluate(closure, functions, params, datum, event, item) {
    var fn = event ? eventFunctions(functions, event) : functions;
    return closure(new Scope(fn, params, datum, event, item));
  }

  /* Vega's mark geometry rule: x2/xc/y2/yc into x/width and y/height (vega-interpreter's adjustSpatial). */
  function adjustSpatial(item, channels, swap) {
    var t;
    if (channels.x2) {
      if (channels.x) {
        if (swap && item.x > item.x2) { t = item.x; item.x = item.x2; item.x2 = t; }
        item.width = item.x2 - item.x;
      } else {
        item.x = item.x2 - (item.width || 0);
      }
    }
    if (channels.xc) { item.x = item.xc - (item.width || 0) / 2; }
    if (channels.y2) {
      if (channels.y) {
        if (swap && item.y > item.y2) { t = item.y; item.y = item.y2; item.y2 = t; }
        item.height = item.y2 - item.y;
      } else {
        item.y = item.y2 - (item.height || 0);
      }
    }
    if (channels.yc) { item.y = item.yc - (item.height || 0) / 2; }
  }

  window.BrevettiVegaExpr = {
    operator: function (ctx, spec) {
      var closure = compile(spec.ast), functions = ctx.functions;
      return function (params) { return evaluate(closure, functions, params); };
    },
    parameter: function (ctx, spec) {
      var closure = compile(spec.ast), functions = ctx.functions;
      return function (datum, params) { return evaluate(closure, functions, params, datum); };
    },
    event: function (ctx, spec) {
      var closure = compile(spec.ast), functions = ctx.functions;
      return function (event) { return evaluate(closure, functions, undefined, undefined, event); };
    },
    handler: function (ctx, spec) {
      var closure = compile(spec.ast), functions = ctx.functions;
      return function (params, event) {
        var datum = event.item && event.item.datum;
        return evaluate(closure, functions, params, datum, event);
      };
    },
    encode: function (ctx, spec) {
      var marktype = spec.marktype, channels = spec.channels, functions = ctx.functions;
      var swap = marktype === 'group' || marktype === 'image' || marktype === 'rect';
      var names = Object.keys(channels);
      var closures = names.map(function (name) { return compile(channels[name].ast); });
      return function (item, params) {
        var scope = new Scope(functions, params, item.datum, undefined, item);
        var changed = 0;
        for (var i = 0; i < names.length; i += 1) {
          var value = closures[i](scope);
          if (item[names[i]] !== value) { item[names[i]] = value; changed = 1; }
        }
        if (marktype !== 'rule') { adjustSpatial(item, channels, swap); }
        return changed;
      };
    }
  };
}());
