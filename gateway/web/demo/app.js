// The demo app: a shared, live list of characters (name, number,
// attachment) on top of bertsync.js. Plain Backbone, no build step.
//
// ?transports=eventsource,longpoll in the page URL forces transports, to
// watch the fallbacks at work.
//
// For a server that checks tokens (docs/client.md, Authentication), a host
// page sets window.bertsyncAuth = {token, renewToken} before this script,
// or the page is opened with ?token=<JWT>. With neither, it is anonymous,
// as a server without auth wants.
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  var options = {};
  if (params.get('transports')) options.transports = params.get('transports').split(',');
  var auth = window.bertsyncAuth || {};
  if (auth.token) options.token = auth.token;
  if (typeof auth.renewToken === 'function') options.renewToken = auth.renewToken;
  if (params.get('token')) {
    options.token = params.get('token');
    // Out of the address bar at once: a token does not belong in the
    // history, in bookmarks or in a Referer.
    params.delete('token');
    var rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
  }
  // The client opens nothing until told to: this starts the connection
  // (and sends whatever this tab queued while it was away).
  Bertsync.connect(options);

  var Character = Backbone.Model.extend({
    name: 'character',
    defaults: { name: '', number: 0 }
  });

  var Characters = Backbone.Collection.extend({
    name: 'character',
    model: Character,
    // Ids are time-ordered (the client makes them), so this is the order
    // of creation on every tab.
    comparator: function (m) { return String(m.id); }
  });

  var log = function (text) {
    var li = document.createElement('li');
    li.textContent = new Date().toLocaleTimeString() + '  ' + text;
    var ol = document.getElementById('log');
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > 12) ol.removeChild(ol.lastChild);
  };

  var CharacterView = Backbone.View.extend({
    tagName: 'li',
    events: {
      'change .name': 'rename',
      'click .inc': function () { this.bump(1); },
      'click .dec': function () { this.bump(-1); },
      'change input[type=file]': 'attach',
      'click .wave': 'wave',
      'click .delete': 'destroy'
    },
    initialize: function () {
      var tpl = document.getElementById('item-template').content.firstElementChild;
      this.setElement(tpl.cloneNode(true));
      this.listenTo(this.model, 'change', this.render);
      this.listenTo(this.model, 'broadcast', this.flash);
      this.render();
    },
    render: function () {
      var m = this.model;
      this.el.dataset.id = m.id;
      var name = this.$('.name')[0];
      if (document.activeElement !== name) name.value = m.get('name');
      this.$('.value').text(m.get('number'));
      var f = m.get('file');
      var a = this.$('.attachment');
      if (f && f.url) a.attr('href', f.url).text(f.name + ' (' + f.size + ' B)').show();
      else a.hide();
      return this;
    },
    rename: function () {
      var v = this.$('.name').val().trim();
      if (v) this.model.save({ name: v }, { patch: true });
    },
    bump: function (d) {
      this.model.save({ number: (Number(this.model.get('number')) || 0) + d }, { patch: true });
    },
    attach: function (e) {
      var file = e.target.files[0];
      if (!file) return;
      var self = this;
      this.model.upload({ file: file, fileName: file.name }).then(function (res) {
        log('uploaded ' + res.file.name + ' to ' + self.model.get('name'));
      }, function (err) {
        log('upload failed: ' + err.message);
      });
      e.target.value = '';
    },
    wave: function () {
      this.model.broadcast({ id: this.model.id, name: this.model.get('name'), wave: true });
      log('waved from ' + this.model.get('name'));
    },
    flash: function () {
      var el = this.el;
      el.classList.add('waved');
      setTimeout(function () { el.classList.remove('waved'); }, 1200);
    },
    destroy: function () { this.model.destroy(); }
  });

  var AppView = Backbone.View.extend({
    el: 'body',
    events: { 'submit #add': 'add', 'click .retry': function () { Bertsync.reconnect(); } },
    initialize: function () {
      this.views = {};
      this.listenTo(this.collection, 'add', this.addOne);
      this.listenTo(this.collection, 'remove', this.removeOne);
      this.listenTo(this.collection, 'sort reset', this.reorder);
      // A new model is added before the client gives it its id: place it
      // again once it has one.
      this.listenTo(this.collection, 'change:id', function () { this.collection.sort(); });
      this.listenTo(this.collection, 'update reset', this.toggleEmpty);
      this.listenTo(this.collection, 'push', function (event, props) {
        if (event !== 'broadcast') log(event + ' ' + (props.name || props.id));
      });
      this.listenTo(this.collection, 'broadcast', function (props) {
        log((props.name || 'someone') + ' waves from another tab');
      });
      this.listenTo(this.collection, 'error', function (m, err) { log('error: ' + (err && err.message)); });
      Bertsync.on('state', this.status, this);
      Bertsync.on('pending', this.status, this);
      Bertsync.on('transport', this.status, this);
      Bertsync.on('token', this.status, this);
      Bertsync.on('state', function (s) { log('connection ' + s + (Bertsync.transport ? ' (' + Bertsync.transport + ')' : '')); });
      Bertsync.on('error', function (err) { log('error: ' + (err && err.message)); });
      this.status();
      this.toggleEmpty();
    },
    add: function (e) {
      e.preventDefault();
      var form = e.target;
      var nameInput = form.elements.namedItem('name');
      var name = nameInput.value.trim();
      if (!name) return;
      this.collection.create({ name: name, number: Number(form.elements.namedItem('number').value) || 0 });
      nameInput.value = '';
      nameInput.focus();
    },
    addOne: function (m) {
      // reorder may have made the view already (a fetch adds several
      // models before their add events).
      if (!this.views[m.cid]) this.views[m.cid] = new CharacterView({ model: m });
      this.reorder();
    },
    removeOne: function (m) {
      var v = this.views[m.cid];
      if (v) { v.remove(); delete this.views[m.cid]; }
    },
    reorder: function () {
      var list = document.getElementById('list');
      var self = this;
      this.collection.each(function (m) {
        var v = self.views[m.cid];
        if (!v) { v = self.views[m.cid] = new CharacterView({ model: m }); }
        list.appendChild(v.el);
      });
    },
    toggleEmpty: function () {
      document.getElementById('empty').hidden = this.collection.length > 0;
    },
    status: function () {
      var s = Bertsync.state;
      var el = document.getElementById('status');
      el.className = 'status ' + s;
      el.querySelector('.state').textContent = s;
      el.querySelector('.transport').textContent = Bertsync.transport ? 'via ' + Bertsync.transport : '';
      // Who the token says this is (read, not verified: the server does that).
      var claims = Bertsync.jwtClaims(Bertsync.client().token);
      el.querySelector('.user').textContent = claims && claims.sub ? 'as ' + claims.sub : '';
      el.querySelector('.pending').textContent = Bertsync.pending + ' pending';
      el.querySelector('.pending').classList.toggle('some', Bertsync.pending > 0);
      el.querySelector('.retry').hidden = s !== 'offline';
    }
  });

  var characters = new Characters();
  window.app = new AppView({ collection: characters });
  window.characters = characters;
  characters.subscribe().then(null, function (err) { log('could not load: ' + err.message); });
}());
