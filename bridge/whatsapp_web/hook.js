// Parley's hook into WhatsApp Web.
//
// Injected into every document of the browser context before the page's own
// scripts, so a navigation or a reload gets it again; a flag on `window` makes it
// run once per document. It waits for WhatsApp Web's version marker, checks the
// page contract (reporting exactly what is missing), then hands events to Python
// through the exposed binding and offers a few calls on `window[C.api]`.
// Every WhatsApp Web name it uses comes from the contract (contract.py).
(() => {
    'use strict';
    const C = __PARLEY_CONTRACT__;
    if (window.top !== window) return; // frames have nothing for us
    if (window[C.api]) return; // already installed in this document

    const M = C.members;
    const E = C.events;
    const S = C.states;
    const T = C.timings;

    const emit = (event) => {
        const binding = window[C.binding];
        if (typeof binding !== 'function') return;
        // The driver may be gone (closing): there is no one left to tell.
        Promise.resolve(binding(event)).catch(() => {});
    };
    const problem = (what, error) =>
        emit({ type: 'problem', what, detail: String((error && error.message) || error) });

    // ------------------------------------------------------------ contract

    const walk = (root, path) => {
        if (!path) return root;
        let value = root;
        for (const part of path.split('.')) {
            if (value === null || value === undefined) return undefined;
            value = value[part];
        }
        return value;
    };
    const needs = new Map(C.needs.map((need) => [need.key, need]));
    const found = new Map();

    // The value a need names, or undefined. Misses are not remembered: WhatsApp
    // Web defines some modules lazily, after its version marker appears.
    const get = (key) => {
        if (found.has(key)) return found.get(key);
        const need = needs.get(key);
        if (!need) throw new Error(`parley: no need named ${key} in the contract`);
        if (typeof window.require !== 'function') return undefined;
        for (const name of need.modules) {
            let module;
            try {
                module = window.require(name);
            } catch (error) {
                continue;
            }
            if (module === null || module === undefined) continue;
            const value = walk(module, need.path);
            if (value === undefined) continue;
            if (need.kind !== 'any' && typeof value !== need.kind) continue;
            const parts = need.path ? need.path.split('.') : [];
            const owner = walk(module, parts.slice(0, -1).join('.'));
            // Methods keep their object; a module that is itself a class stays one.
            const usable = typeof value === 'function' && parts.length ? value.bind(owner) : value;
            found.set(key, usable);
            return usable;
        }
        return undefined;
    };
    const missing = (role) =>
        C.needs.filter((need) => need.role === role && get(need.key) === undefined).map((need) => need.describe);

    const version = () => {
        const value = walk(window, C.versionMarker.join('.'));
        return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
    };

    // ------------------------------------------------------------ reading

    const ser = (wid) => {
        if (wid === null || wid === undefined) return '';
        if (typeof wid === 'string') return wid;
        return String(wid[M.serialized] || wid);
    };
    const keyOf = (msg) => (msg && msg[M.id] ? ser(msg[M.id]) : '');
    const me = () => ser(get('me')());
    const models = (collection) => (collection ? collection[M.models]() : []);
    const isCiphertext = (msg) => msg[M.type] === C.ciphertextType;
    const isMessage = (msg) => !msg[M.isNotification] && !C.notMessages.includes(msg[M.type]);
    const numberOrNull = (value) => (typeof value === 'number' && Number.isFinite(value) ? value : null);

    const chatOf = (msg) => {
        const key = msg[M.id];
        const remote = key && key[M.keyRemote];
        return remote ? get('chats.get')(remote) : undefined;
    };
    // WhatsApp keeps only the quoted message's stanza id; the chat usually holds
    // that message, whose full key is what Parley records and quotes back.
    const quotedIdOf = (msg) => {
        const stanza = msg[M.quotedStanzaID];
        if (!stanza) return '';
        const chat = chatOf(msg);
        const hit = chat && models(chat[M.chatMsgs]).find((m) => m[M.id] && m[M.id][M.keyId] === stanza);
        return hit ? keyOf(hit) : String(stanza);
    };

    // A message as Python reads it: flat, plain, and free of WhatsApp's shapes.
    const flatten = (msg) => {
        const key = msg[M.id];
        const fromMe = Boolean(key[M.keyFromMe]);
        const chat = ser(key[M.keyRemote]);
        const self = me();
        const sender = fromMe ? self : ser(msg[M.author]) || ser(msg[M.from]);
        const type = String(msg[M.type] || '');
        const mentions = (msg[M.mentionedJidList] || []).map(ser);
        return {
            id: ser(key),
            chat,
            fromMe,
            sender,
            pushName: String(msg[M.notifyName] || ''),
            t: Number(msg[M.t]),
            type,
            body: C.textTypes.includes(type) ? String(msg[M.body] || '') : '',
            caption: String(msg[M.caption] || ''),
            quotedId: quotedIdOf(msg),
            isNew: Boolean(msg[M.isNewMsg]), // arrived live, not loaded as history
            mentionsMe: Boolean(self) && mentions.includes(self),
            mime: String(msg[M.mimetype] || ''),
            size: numberOrNull(msg[M.size]),
            fileName: String(msg[M.filename] || ''),
            fileHash: String(msg[M.filehash] || ''),
            duration: numberOrNull(Number(msg[M.duration])),
            width: numberOrNull(msg[M.width]),
            height: numberOrNull(msg[M.height]),
            lat: numberOrNull(msg[M.lat]),
            lng: numberOrNull(msg[M.lng]),
            place: String(msg[M.loc] || ''),
            vcardName: String(msg[M.vcardName] || ''),
            reaction: String(msg[M.reactionText] || ''),
        };
    };

    // ------------------------------------------------------------ events

    const pending = new Set(); // ids still ciphertext
    const sentByUs = new Set(); // ids this document sent for Parley: not inbound
    let attached = false;
    let lastQr = '';

    const pendingEvent = (msg) => ({
        type: 'pending',
        id: keyOf(msg),
        chat: ser(msg[M.id][M.keyRemote]),
        t: Number(msg[M.t]),
        isNew: Boolean(msg[M.isNewMsg]),
    });

    const onNewMessage = (msg) => {
        const id = keyOf(msg);
        if (!id || sentByUs.has(id)) return;
        if (isCiphertext(msg)) {
            // WhatsApp adds it before it can read it and changes its type later.
            pending.add(id);
            emit(pendingEvent(msg));
            return;
        }
        if (!isMessage(msg)) return;
        emit({ type: 'message', message: flatten(msg) });
    };

    const loginCode = async (ref) => {
        const absent = missing('login');
        if (absent.length) throw new Error(`cannot draw the login code: missing ${absent.join(', ')}`);
        const b64 = get('base64.encode');
        const registration = await get('registration.registrationInfo')();
        const noise = await get('registration.noiseInfo')();
        return [
            ref,
            b64(noise[M.staticKeyPair][M.pubKey]),
            b64(registration[M.identityKeyPair][M.pubKey]),
            await get('registration.advSecretKey')(),
            get('registration.platform'),
        ].join(',');
    };

    const reportQr = async () => {
        const ref = get('conn')[M.ref];
        if (!ref) return;
        try {
            const code = await loginCode(ref);
            if (code !== lastQr) {
                lastQr = code;
                emit({ type: 'qr', code });
            }
        } catch (error) {
            problem('qr', error);
        }
    };

    const reportState = () => {
        const socket = get('socket');
        const state = String(socket[M.socketState] || '');
        emit({ type: 'state', state, synced: Boolean(socket[M.hasSynced]) });
        if (state === S.UNPAIRED_IDLE) {
            // The code expired while no one scanned it: ask for a fresh one.
            const refresh = get('cmd.refreshQR');
            if (refresh) refresh();
        }
        if (state === S.UNPAIRED || state === S.UNPAIRED_IDLE) reportQr();
    };

    const attach = () => {
        const onMsgs = get('msgs.on');
        onMsgs(E.add, (msg) => {
            if (msg && msg[M.isNewMsg]) onNewMessage(msg);
        });
        onMsgs(E.type, (msg) => {
            const id = keyOf(msg);
            if (pending.has(id) && !isCiphertext(msg)) {
                pending.delete(id);
                onNewMessage(msg);
            }
        });
        onMsgs(E.ack, (msg, ack) => {
            const key = msg && msg[M.id];
            if (!key || !key[M.keyFromMe]) return;
            emit({
                type: 'ack',
                id: ser(key),
                chat: ser(key[M.keyRemote]),
                ack: Number(ack === undefined ? msg[M.ack] : ack),
            });
        });
        const onSocket = get('socket.on');
        onSocket(E.state, () => reportState());
        onSocket(E.synced, () => reportState());
        get('conn.on')(E.ref, () => reportQr());
        const onCmd = get('cmd.on');
        onCmd(E.logout, () => emit({ type: 'logout' }));
        onCmd(E.logoutFromBridge, () => emit({ type: 'logout' }));
        attached = true;
        reportState();
    };

    // ------------------------------------------------------------ boot

    let markerSeenAt = 0;
    const boot = () => {
        const seen = version();
        if (!seen || typeof window.require !== 'function') {
            setTimeout(boot, T.pollMs);
            return;
        }
        if (!markerSeenAt) {
            markerSeenAt = Date.now();
            emit({ type: 'version', version: seen });
        }
        const absent = { core: missing('core'), login: missing('login'), optional: missing('optional') };
        if (absent.core.length && Date.now() - markerSeenAt < T.contractGraceMs) {
            setTimeout(boot, T.pollMs);
            return;
        }
        emit({ type: 'contract', version: seen, missing: absent });
        if (absent.core.length) return; // Python reports the page broken
        try {
            attach();
        } catch (error) {
            problem('attach', error);
            emit({ type: 'contract', version: seen, missing: { core: [`attach: ${error}`], login: [], optional: [] } });
        }
    };

    // ------------------------------------------------------------ calls

    const unavailable = (why) => new Error(`parley:unavailable: ${why}`);
    const rejected = (why) => new Error(`parley:rejected: ${why}`);
    const requireAttached = () => {
        if (!attached) throw unavailable('WhatsApp Web is not ready in this page');
    };
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

    const findChat = async (chatId, create) => {
        let wid;
        try {
            wid = get('wid.create')(chatId);
        } catch (error) {
            throw rejected(`not a WhatsApp chat id: ${chatId}`);
        }
        let chat = get('chats.get')(wid);
        const find = get('findChat');
        if (!chat && create && find) {
            try {
                const result = await find(wid);
                chat = result && (result[M.foundChat] || result);
            } catch (error) {
                throw rejected(`WhatsApp Web cannot open a chat with ${chatId}: ${error}`);
            }
        }
        return chat || null;
    };

    const quoteFields = (chat, quotedId) => {
        if (!quotedId) return {};
        const quoted = get('msgs.get')(quotedId);
        if (!quoted || typeof quoted[M.quoteContext] !== 'function') {
            problem('quote', `the message to quote is not in the page: ${quotedId}`);
            return {};
        }
        return quoted[M.quoteContext](chat);
    };

    const send = async (chatId, text, quotedId) => {
        requireAttached();
        const chat = await findChat(chatId, true);
        if (!chat) throw rejected(`no such chat: ${chatId}`);
        const self = get('me')();
        if (!self) throw unavailable('the page does not know its own number yet');
        const chatWid = chat[M.chatId];
        const isGroup = ser(chatWid).endsWith(C.groupSuffix);
        const MsgKey = get('msgKey');
        const keyFields = {
            [M.from]: self,
            [M.to]: chatWid,
            [M.keyId]: await get('msgKey.newId')(),
            [M.keySelfDir]: 'out', // the key works out fromMe from this
        };
        if (isGroup) keyFields[M.keyParticipant] = self;
        const key = new MsgKey(keyFields);
        const ephemeral = get('ephemeralFields');
        const t = Math.floor(Date.now() / 1000);
        const message = {
            ...(ephemeral ? ephemeral(chat) : {}),
            ...quoteFields(chat, quotedId),
            [M.id]: key,
            [M.ack]: 0,
            [M.body]: text,
            [M.from]: self,
            [M.to]: chatWid,
            [M.local]: true,
            [M.self]: 'out',
            [M.t]: t,
            [M.isNewMsg]: true,
            [M.type]: C.textTypes[0],
        };
        const id = ser(key);
        sentByUs.add(id);
        const [added, result] = get('send')(chat, message);
        await added;
        if (T.sendAckWaitMs > 0) await Promise.race([result, sleep(T.sendAckWaitMs)]);
        return { id, t };
    };

    const typing = async (chatId, on) => {
        requireAttached();
        const action = get(on ? 'typing.on' : 'typing.off');
        if (!action) return false;
        await action(get('wid.create')(chatId));
        return true;
    };

    const markRead = async (chatId) => {
        requireAttached();
        const seen = get('seen');
        const chat = await findChat(chatId, false);
        if (!seen || !chat) return false;
        const stream = get('stream');
        if (stream && typeof stream[M.markAvailable] === 'function') stream[M.markAvailable]();
        try {
            await seen({ [M.seenChat]: chat, [M.seenThread]: undefined });
        } finally {
            if (stream && typeof stream[M.markUnavailable] === 'function') stream[M.markUnavailable]();
        }
        return true;
    };

    // Messages at or after each chat's floor (seconds), oldest first: what arrived
    // while Python was not listening. Ciphertext ones come back as 'pending'.
    const catchUp = (floors, defaultFloor) => {
        requireAttached();
        const out = [];
        for (const chat of get('chats.all')()) {
            const chatId = ser(chat[M.chatId]);
            const floor = Object.prototype.hasOwnProperty.call(floors, chatId) ? floors[chatId] : defaultFloor;
            for (const msg of models(chat[M.chatMsgs])) {
                const id = keyOf(msg);
                if (!id || sentByUs.has(id) || !(Number(msg[M.t]) >= floor)) continue;
                if (isCiphertext(msg)) {
                    pending.add(id);
                    out.push(pendingEvent(msg));
                } else if (isMessage(msg)) {
                    out.push({ type: 'message', message: flatten(msg) });
                }
            }
        }
        const t = (event) => (event.type === 'pending' ? event.t : event.message.t);
        return out.sort((a, b) => t(a) - t(b));
    };

    // Messages from this account in `chatId` with exactly `text`, sent at or after
    // `since`; `complete` says whether every message since then was looked at.
    const findSent = async (chatId, text, since) => {
        requireAttached();
        const chat = await findChat(chatId, false);
        if (!chat) return { matches: [], complete: true }; // no chat: nothing went there
        const collection = chat[M.chatMsgs];
        const loadEarlier = get('loadEarlier');
        const oldest = () => Math.min(...models(collection).map((m) => Number(m[M.t])));
        let exhausted = false;
        for (let round = 0; round < 10 && !exhausted && !(oldest() <= since); round++) {
            if (!loadEarlier) break;
            const more = await loadEarlier(chat, collection);
            exhausted = !more || !more.length;
        }
        const matches = models(collection)
            .filter(
                (m) =>
                    m[M.id] &&
                    m[M.id][M.keyFromMe] &&
                    C.textTypes.includes(m[M.type]) &&
                    m[M.body] === text &&
                    Number(m[M.t]) >= since,
            )
            .map((m) => ({ id: keyOf(m), t: Number(m[M.t]), ack: Number(m[M.ack] || 0) }));
        return { matches, complete: exhausted || oldest() <= since };
    };

    const state = () => {
        const socket = get('socket');
        return socket
            ? { state: String(socket[M.socketState] || ''), synced: Boolean(socket[M.hasSynced]), attached }
            : { state: '', synced: false, attached };
    };

    const takeover = () => {
        const action = get('socket.takeover');
        if (!action) return false;
        action();
        return true;
    };

    Object.defineProperty(window, C.api, {
        value: Object.freeze({ ping: () => version(), state, send, typing, markRead, catchUp, findSent, takeover }),
        enumerable: false,
    });
    emit({ type: 'boot', url: location.href });
    boot();
})();
