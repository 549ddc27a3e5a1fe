# cython: language_level=3
"""The session's per-message work in C (twin: ``fixengine.session.session._PySession``).

Theory of operation
-------------------
:class:`SessionCore` is the base of the compiled ``Session``: the state its hot
methods touch is held in C fields (the Python methods read and write them as
attributes), and these methods are compiled for the common case:

* ``receive_data`` while logged on: the parser's messages go to ``_on_message``;
* ``_on_message``: the session header read in one call, the message logged, and an
  in-sequence application message that every check lets through (the session's
  fast path) delivered; anything else goes to ``_full_checks``, in Python;
* ``send`` of an application message while logged on with PersistMessages=Y:
  numbered, encoded by the header template, persisted, queued and logged;
* ``data_to_send``, ``message_handled``;
* ``get_timer`` while logged on in a non-stop session (asked after every pump).

Every other case is handed to the pure-Python method of the same name on the class
given to :func:`configure`, so each rule of the protocol is written once, in Python;
what is compiled repeats the Python fast paths line for line, and the session tests
run against both classes.
"""

from cpython.object cimport PyObject_GenericSetAttr

cdef object _fallback = None  # the pure-Python session class
cdef object _LOGGED_ON, _LOGOUT_SENT, _DISCONNECTING, _DISCONNECTED
cdef object _OWN_PATH, _ADMIN_PROCESSED, _SESSION_ONLY
cdef object _MessageReceived, _GarbledMessage, _Message, _redact

cdef extern from *:
    """
    /* a new instance of a class whose __new__ is object's (no arguments to check) */
    static PyObject *_fe_new_instance(PyObject *cls) {
        PyTypeObject *t = (PyTypeObject *)cls;
        return t->tp_alloc(t, 0);
    }
    """
    object _fe_new_instance(object cls)


def configure(cls, namespace):
    """Take the fallback class and the constants from the Python module's ``namespace``."""
    global _fallback, _LOGGED_ON, _LOGOUT_SENT, _DISCONNECTING, _DISCONNECTED
    global _OWN_PATH, _ADMIN_PROCESSED, _SESSION_ONLY
    global _MessageReceived, _GarbledMessage, _Message, _redact
    _fallback = cls
    _LOGGED_ON = namespace["_LOGGED_ON"]
    _LOGOUT_SENT = namespace["_LOGOUT_SENT"]
    _DISCONNECTING = namespace["_DISCONNECTING"]
    _DISCONNECTED = namespace["_DISCONNECTED"]
    _OWN_PATH = namespace["_OWN_PATH"]
    _ADMIN_PROCESSED = namespace["_ADMIN_PROCESSED"]
    _SESSION_ONLY = namespace["_SESSION_ONLY"]
    _MessageReceived = namespace["MessageReceived"]
    if _MessageReceived.__new__ is not object.__new__:
        raise TypeError("MessageReceived must be made by object.__new__")
    _GarbledMessage = namespace["GarbledMessage"]
    _Message = namespace["Message"]
    _redact = namespace["_redact"]


cdef class SessionCore:
    """Fields and per-message methods of the compiled ``Session`` (see the module doc)."""

    cdef public object state
    cdef public object config
    cdef public object _store
    cdef public object _flush_store
    cdef public object _log
    cdef public object _template
    cdef public object _validate
    cdef public object _plans
    cdef public object _begin
    cdef public object _sender
    cdef public object _target
    cdef public object _events
    cdef public list _outbox
    cdef public object _parser
    cdef public object _next_sender
    cdef public object _next_target
    cdef public object _stored_target
    cdef public object _confirm
    cdef public object _unhandled
    cdef public object _handled_early
    cdef public object _last_sent
    cdef public object _last_received
    cdef public object _test_requests
    cdef public object _queue
    cdef public object _gap
    cdef public object _now
    cdef public object _heartbeat_interval
    cdef public object _probe
    cdef public object schedule

    def __cinit__(self, *args, **kwargs):
        self._outbox = []

    # -- receiving ------------------------------------------------------------------
    def receive_data(self, data, now):
        """Bytes from the socket, in any chunking."""
        if self.state is not _LOGGED_ON or self._parser is None:
            return _fallback.receive_data(self, data, now)
        self._now = now
        for item in self._parser.feed(data):
            state = self.state
            if state is _DISCONNECTING or state is _DISCONNECTED:
                break  # a disconnect was requested: the rest is not looked at
            if isinstance(item, _GarbledMessage):
                self._on_garbled(item, now)
            else:
                self._on_message(item, now)

    def _on_message(self, msg, now):
        mt, begin, seq, poss_dup, sender, target, sending_time = msg.session_header()
        if mt is None:
            mt = b""
        log = self._log
        if log is not None:
            raw = msg.raw if msg.raw is not None else msg.encode()
            log.on_incoming(_redact(raw) if mt == b"A" or mt == b"BE" else raw)
        if (
            self.state is _LOGGED_ON
            and seq == self._next_target
            and begin == self._begin
            and sending_time is not None
            and sender
            and target
            and mt not in _OWN_PATH
        ):
            cfg = self.config
            validate = self._validate
            plans = self._plans
            plan = plans.get(mt) if plans is not None else None
            if (
                (not cfg.check_latency or abs(now - sending_time) <= cfg.max_latency)
                and (not cfg.check_comp_id or (sender == self._target and target == self._sender))
                and (
                    validate is None
                    or (plan is not None and plan.rules.check(msg))
                    or validate(msg) is None
                )
            ):
                self._last_received = now
                self._test_requests = 0
                if poss_dup is None and mt not in _ADMIN_PROCESSED:
                    # MessageReceived(msg) as its __init__ makes it: its frozen slot
                    # written by the slot's descriptor (not the class's __setattr__)
                    event = _fe_new_instance(_MessageReceived)
                    PyObject_GenericSetAttr(event, "message", msg)
                    self._events.append(event)
                    new_target = seq + 1
                    self._next_target = new_target
                    if self._confirm:
                        self._unhandled.append(seq)
                        stored = self._unhandled[0]
                    else:
                        stored = new_target
                    if stored != self._stored_target:
                        self._stored_target = stored
                        self._store.set_next_target_seq(stored)
                    gap = self._gap
                    if gap is not None and new_target > gap.requested_to:
                        self._gap_progress(gap, new_target, now)
                else:
                    self._process(msg, mt, seq, now)
                if self._queue:
                    self._drain_queue(now)
                return
        self._full_checks(msg, mt, now)

    def message_handled(self, seq):
        """The application is done with the message numbered ``seq``."""
        queue = self._unhandled
        if not queue or seq != queue[0]:
            return _fallback.message_handled(self, seq)
        queue.popleft()
        early = self._handled_early
        while queue and queue[0] in early:
            early.discard(queue.popleft())
        stored = queue[0] if queue else self._next_target
        if stored != self._stored_target:
            self._stored_target = stored
            self._store.set_next_target_seq(stored)

    # -- sending --------------------------------------------------------------------
    def send(self, msg, now):
        """Send an application message; return its MsgSeqNum."""
        state = self.state
        if type(msg) is not _Message or (state is not _LOGGED_ON and state is not _LOGOUT_SENT):
            return _fallback.send(self, msg, now)
        mt = msg.msg_type
        if mt is None or mt in _SESSION_ONLY or not self.config.persist_messages:
            return _fallback.send(self, msg, now)
        self._now = now
        seq = self._next_sender
        data = self._template.encode(msg, mt, seq, now, None)
        self._store.save_sent(seq, data)
        self._next_sender = seq + 1
        self._outbox.append(data)
        self._last_sent = now
        log = self._log
        if log is not None:
            log.on_outgoing(data)
        return seq

    # -- timer ----------------------------------------------------------------------
    def get_timer(self):
        """When ``handle_timer`` must next be called (UTC epoch seconds), or None."""
        if self.state is not _LOGGED_ON or not self.schedule.non_stop:
            return _fallback.get_timer(self)
        if not self._heartbeat_interval > 0:
            return None
        if self._test_requests:
            return self._last_received + 2 * self._probe
        beat = self._last_sent + self._heartbeat_interval
        probe = self._last_received + self._probe
        return beat if beat <= probe else probe

    def data_to_send(self):
        """Every byte queued for the peer since the last call (may be b"")."""
        flush = self._flush_store
        if flush is not None:
            flush()
        cdef list outbox = self._outbox
        if not outbox:
            return b""
        data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
        outbox.clear()
        return data
