// A stand-in for WhatsApp Web, shaped the way the real page is as far as Parley
// relies on it: a version marker, modules behind window.require, Backbone-like
// collections that emit `add` and re-emit their models' `change:<field>`
// events, a socket model whose state runs OPENING / UNPAIRED / PAIRING /
// CONNECTED / TIMEOUT / CONFLICT, a login reference that rotates, and a send
// action. Its "server" is the test's aiohttp app, reached over a WebSocket.
(() => {
    'use strict';
    const cfg = window.FAKE || {};
    if (cfg.hang) return; // stuck at loading: never boots

    // ------------------------------------------------------------ events and models

    class Emitter {
        constructor() {
            Object.defineProperty(this, '_handlers', { value: new Map(), enumerable: false });
        }
        on(names, fn) {
            for (const name of names.split(/\s+/)) {
                if (!this._handlers.has(name)) this._handlers.set(name, []);
                this._handlers.get(name).push(fn);
            }
            return this;
        }
        off(names, fn) {
            for (const name of names.split(/\s+/)) {
                const list = this._handlers.get(name) || [];
                const at = list.indexOf(fn);
                if (at >= 0) list.splice(at, 1);
            }
            return this;
        }
        once(name, fn) {
            const wrapper = (...args) => {
                this.off(name, wrapper);
                fn(...args);
            };
            return this.on(name, wrapper);
        }
        trigger(name, ...args) {
            for (const fn of [...(this._handlers.get(name) || [])]) {
                try {
                    fn(...args);
                } catch (error) {
                    console.error('listener failed', name, error);
                }
            }
        }
    }

    class Model extends Emitter {
        constructor(attributes) {
            super();
            Object.defineProperty(this, 'collections', { value: [], enumerable: false });
            Object.assign(this, attributes);
        }
        set(key, value) {
            if (this[key] === value) return;
            this[key] = value;
            for (const target of [this, ...this.collections]) {
                target.trigger(`change:${key}`, this, value);
                target.trigger('change', this);
            }
        }
        serialize() {
            return { ...this };
        }
    }

    class Collection extends Emitter {
        constructor(modelClass) {
            super();
            this.modelClass = modelClass;
            this._models = new Map();
        }
        add(model) {
            const key = model.id._serialized;
            if (this._models.has(key)) return this._models.get(key);
            this._models.set(key, model);
            model.collections.push(this);
            this.trigger('add', model, this);
            return model;
        }
        get(id) {
            const key = typeof id === 'string' ? id : id && id._serialized;
            return this._models.get(key);
        }
        getModelsArray() {
            return [...this._models.values()];
        }
    }

    // ------------------------------------------------------------ ids

    class Wid {
        constructor(serialized) {
            const [user, server] = serialized.split('@');
            this.user = user;
            this.server = server;
            this._serialized = serialized;
        }
        isGroup() {
            return this.server === 'g.us';
        }
        isLid() {
            return this.server === 'lid';
        }
        toString() {
            return this._serialized;
        }
    }
    const createWid = (value) => {
        if (value instanceof Wid) return value;
        if (typeof value !== 'string' || !/^[\w.:-]+@(c\.us|g\.us|lid|broadcast)$/.test(value)) {
            throw new Error(`invalid wid: ${value}`);
        }
        return new Wid(value);
    };

    class MsgKey {
        constructor({ from, to, id, participant, selfDir }) {
            if (!id) throw new Error('a message key needs an id');
            this.fromMe = selfDir === 'out';
            this.remote = createWid(String(this.fromMe ? to : from));
            this.id = id;
            this.participant = participant ? createWid(String(participant)) : undefined;
            const suffix = this.participant && this.remote.isGroup() ? `_${this.participant._serialized}` : '';
            this._serialized = `${this.fromMe}_${this.remote._serialized}_${this.id}${suffix}`;
        }
        toString() {
            return this._serialized;
        }
        static async newId() {
            const bytes = crypto.getRandomValues(new Uint8Array(8));
            return `3EB0${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase()}`;
        }
        static fromWire(wire) {
            const key = Object.create(MsgKey.prototype);
            key.fromMe = wire.fromMe;
            key.remote = createWid(wire.remote);
            key.id = wire.id;
            key.participant = wire.participant ? createWid(wire.participant) : undefined;
            key._serialized = wire._serialized;
            return key;
        }
    }

    // ------------------------------------------------------------ the account

    let me = '';
    const Msg = new Collection();
    const Chat = new Collection();

    class MsgModel extends Model {
        msgContextInfo(chat) {
            return {
                quotedMsg: { type: this.type, body: this.body },
                quotedStanzaID: this.id.id,
                quotedParticipant: this.id.fromMe ? createWid(me) : this.author || this.from,
                quotedRemoteJid: chat.id,
            };
        }
    }

    const chatFor = (wid) => {
        let chat = Chat.get(wid);
        if (!chat) {
            chat = new Model({ id: wid, msgs: new Collection() });
            Chat.add(chat);
        }
        return chat;
    };

    const toWid = (value) => (value ? createWid(value) : undefined);
    const addMessage = (wire, isNewMsg) => {
        const key = MsgKey.fromWire(wire.id);
        if (Msg.get(key._serialized)) return Msg.get(key._serialized);
        const msg = new MsgModel({
            ...wire,
            id: key,
            from: toWid(wire.from),
            to: toWid(wire.to),
            author: toWid(wire.author),
            mentionedJidList: (wire.mentionedJidList || []).map(createWid),
            isNewMsg,
        });
        chatFor(key.remote).msgs.add(msg);
        Msg.add(msg);
        return msg;
    };

    const Socket = new Model({ state: 'OPENING', hasSynced: false });
    const Conn = new Model({ ref: '' });
    const Cmd = new Emitter();

    // ------------------------------------------------------------ the server

    let ws = null;
    const send = (message) => {
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
    };
    const stored = new Map(); // message id -> resolve, once the server has it
    const acked = new Map();

    Socket.takeover = () => send({ op: 'takeover' });
    Socket.logout = () => send({ op: 'logout' });
    Cmd.refreshQR = () => send({ op: 'refreshQR' });

    const loadHistory = (history) => {
        for (const wire of history || []) addMessage(wire, false);
    };
    const connected = () => {
        Socket.set('state', 'CONNECTED');
        Socket.set('hasSynced', true);
    };

    const onServer = (message) => {
        switch (message.op) {
            case 'welcome':
                me = message.me;
                if (message.paired) {
                    loadHistory(message.history);
                    connected();
                } else {
                    localStorage.removeItem('fake-wa-token');
                    Conn.set('ref', message.ref);
                    Socket.set('state', 'UNPAIRED');
                }
                break;
            case 'ref':
                Conn.set('ref', message.ref);
                break;
            case 'paired':
                localStorage.setItem('fake-wa-token', message.token);
                Socket.set('state', 'PAIRING');
                setTimeout(() => {
                    loadHistory(message.history);
                    connected();
                }, 50);
                break;
            case 'message':
                addMessage(message.msg, true);
                break;
            case 'type': {
                const msg = Msg.get(message.id);
                if (msg) {
                    msg.body = message.body;
                    msg.set('type', message.type);
                }
                break;
            }
            case 'stored': {
                const resolve = stored.get(message.id);
                stored.delete(message.id);
                if (resolve) resolve();
                break;
            }
            case 'ack': {
                const msg = Msg.get(message.id);
                if (msg) msg.set('ack', message.ack);
                const resolve = acked.get(message.id);
                acked.delete(message.id);
                if (resolve) resolve({ messageSendResult: 'OK' });
                break;
            }
            case 'state':
                Socket.set('state', message.state);
                break;
            case 'logout':
                localStorage.removeItem('fake-wa-token');
                Cmd.trigger('logout');
                location.href = '/?post_logout=1';
                break;
            default:
                console.error('unknown server message', message);
        }
    };

    const connect = () => {
        ws = new WebSocket(`ws://${location.host}/ws`);
        ws.onopen = () => send({ op: 'hello', token: localStorage.getItem('fake-wa-token') });
        ws.onmessage = (event) => onServer(JSON.parse(event.data));
        ws.onclose = () => {
            ws = null;
            if (Socket.state === 'CONNECTED') Socket.set('state', 'TIMEOUT');
            setTimeout(connect, 200);
        };
    };

    // ------------------------------------------------------------ actions

    const wire = (msg) => ({
        id: {
            fromMe: msg.id.fromMe,
            remote: msg.id.remote._serialized,
            id: msg.id.id,
            participant: msg.id.participant ? msg.id.participant._serialized : null,
            _serialized: msg.id._serialized,
        },
        type: msg.type,
        t: msg.t,
        body: msg.body,
        from: String(msg.from),
        to: String(msg.to),
        quotedStanzaID: msg.quotedStanzaID || null,
        quotedParticipant: msg.quotedParticipant ? String(msg.quotedParticipant) : null,
        ack: msg.ack,
    });

    const addAndSendMsgToChat = (chat, message) => {
        if (!(message.id instanceof MsgKey)) throw new Error('the message id must be a MsgKey');
        if (message.type !== 'chat' || typeof message.body !== 'string') throw new Error('not a text message');
        if (message.id.remote._serialized !== chat.id._serialized) throw new Error('key and chat disagree');
        const msg = new MsgModel({ ...message });
        chat.msgs.add(msg);
        Msg.add(msg);
        const id = msg.id._serialized;
        const added = new Promise((resolve) => stored.set(id, () => resolve(msg)));
        const result = new Promise((resolve) => acked.set(id, resolve));
        send({ op: 'send', msg: wire(msg) });
        return [added, result];
    };

    const bytes = (seed) => Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + seed) % 256);

    const modules = {
        WAWebSocketModel: { Socket },
        WAWebConnModel: { Conn },
        WAWebCmd: { Cmd },
        WAWebCollections: { Msg, Chat },
        WAWebWidFactory: { createWid },
        WAWebMsgKey: MsgKey,
        WAWebUserPrefsMeUser: {
            getMaybeMePnUser: () => (me ? createWid(me) : undefined),
            getMaybeMeLidUser: () => undefined,
        },
        WAWebSendMsgChatAction: { addAndSendMsgToChat },
        WAWebFindChatAction: {
            findOrCreateLatestChat: async (wid) => {
                if (wid.isGroup() && !Chat.get(wid)) throw new Error('not a participant of that group');
                return { chat: chatFor(wid) };
            },
        },
        WAWebGetEphemeralFieldsMsgActionsUtils: { getEphemeralFields: () => ({ ephemeralDuration: 0 }) },
        WAWebChatStateBridge: {
            sendChatStateComposing: async (wid) => send({ op: 'typing', chat: wid._serialized, state: 'composing' }),
            sendChatStatePaused: async (wid) => send({ op: 'typing', chat: wid._serialized, state: 'paused' }),
        },
        WAWebUpdateUnreadChatAction: {
            sendSeen: async ({ chat }) => send({ op: 'seen', chat: chat.id._serialized }),
        },
        WAWebStreamModel: { Stream: { markAvailable() {}, markUnavailable() {} } },
        WAWebSignalStoreApi: {
            waSignalStore: { getRegistrationInfo: async () => ({ identityKeyPair: { pubKey: bytes(1) } }) },
        },
        WAWebUserPrefsInfoStore: { waNoiseInfo: { get: async () => ({ staticKeyPair: { pubKey: bytes(2) } }) } },
        WAWebAdvSignatureApi: { getADVSecretKey: async () => 'ADVSECRET' },
        WAWebCompanionRegClientUtils: { DEVICE_PLATFORM: 'Chrome' },
        WABase64: { encodeB64: (data) => btoa(String.fromCharCode(...data)) },
        WAWebChatLoadMessages: { loadEarlierMsgs: async () => [] },
    };
    for (const name of cfg.missing || []) {
        const [module, attribute] = name.split('.');
        if (attribute) delete modules[module][attribute];
        else delete modules[module];
    }

    // WhatsApp Web boots asynchronously: the module system and the version
    // marker appear a little after the document starts.
    setTimeout(() => {
        window.require = (name) => {
            if (!Object.prototype.hasOwnProperty.call(modules, name)) {
                throw new Error(`Requiring unknown module "${name}"`);
            }
            return modules[name];
        };
        window.Debug = { VERSION: cfg.version || '2.3000.0-fake' };
        connect();
    }, 30);
})();
