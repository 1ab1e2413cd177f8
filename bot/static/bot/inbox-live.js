/* The inbox's live updates (docs/people.md, "Live updates"). No library, no inline script.
 *
 * The page names its events URL and the parts it renews on its script tag:
 *   <script id="inbox-live" src=".../inbox-live.js" data-events-url="..." data-parts="id id"
 *           defer></script>
 * An EventSource listens to the admin's events stream (bot.admin.InboxAdmin.events_view); on
 * each `changed` (debounced) the page is fetched again, with the login's cookies, and each part
 * whose HTML differs is replaced by its fresh copy. Nothing else of the page is touched: the
 * reply box keeps what the person is typing. Each time the stream opens (EventSource reconnects
 * by itself; the server ends it every STREAM_MAX_SECONDS) the page is fetched once, for what came
 * before it listened.
 */
'use strict';
(function () {
    const script = document.getElementById('inbox-live');
    if (!script || !window.EventSource || !window.fetch || !window.DOMParser) {
        return;
    }
    const eventsUrl = script.dataset.eventsUrl;
    const parts = (script.dataset.parts || '').split(/\s+/).filter(Boolean);
    const DEBOUNCE_MS = 250; // a burst of wake-ups makes one fetch
    const RETRY_MS = 15000; // after the stream was refused (logged out, too many streams)

    let timer = null; // a fetch is scheduled
    let fetching = false;
    let again = false; // a wake-up came during the fetch: fetch once more after it
    let source = null;

    // The state of the list's checkboxes and action, kept across a renewal of the list.
    function listState() {
        const checked = Array.from(document.querySelectorAll('input.action-select:checked'))
            .map((box) => box.value);
        const action = document.querySelector('#changelist-form select[name=action]');
        return {checked: checked, action: action ? action.value : ''};
    }

    function listRestore(state) {
        const boxes = document.querySelectorAll('tr input.action-select');
        const action = document.querySelector('#changelist-form select[name=action]');
        if (action) {
            action.value = state.action;
        }
        if (!boxes.length || typeof window.Actions !== 'function') {
            return;
        }
        window.Actions(boxes); // the admin's actions.js, on the new rows
        boxes.forEach(function (box) {
            if (state.checked.indexOf(box.value) !== -1) {
                box.checked = true;
                box.dispatchEvent(new Event('change', {bubbles: true})); // its row and counter
            }
        });
    }

    function renew(fresh) {
        const list = listState();
        let rows = false; // a renewed part has rows to select: the admin's actions start on them
        parts.forEach(function (id) {
            const mine = document.getElementById(id);
            const theirs = fresh.getElementById(id);
            if (!mine || !theirs || mine.outerHTML === theirs.outerHTML) {
                return;
            }
            const renewed = document.importNode(theirs, true);
            mine.replaceWith(renewed);
            rows = rows || renewed.querySelector('input.action-select') !== null;
        });
        // The conversation's own attributes (data-bot-on): the section holds the reply form,
        // so its attributes are copied rather than the section replaced.
        const section = document.getElementById('inbox-conversation');
        const freshSection = fresh.getElementById('inbox-conversation');
        if (section && freshSection) {
            section.dataset.botOn = freshSection.dataset.botOn;
        }
        if (rows) {
            listRestore(list);
        }
        document.dispatchEvent(new CustomEvent('inbox:renewed'));
    }

    function refresh() {
        timer = null;
        if (fetching) {
            again = true;
            return;
        }
        fetching = true;
        again = false;
        fetch(window.location.href, {
            credentials: 'same-origin',
            cache: 'no-store',
            headers: {'X-Requested-With': 'XMLHttpRequest'}
        }).then(function (response) {
            // Logged out meanwhile (the login page) or gone: keep the page as it is.
            if (!response.ok || response.url.split('#')[0] !== window.location.href.split('#')[0]) {
                return null;
            }
            return response.text();
        }).then(function (html) {
            if (html !== null) {
                renew(new DOMParser().parseFromString(html, 'text/html'));
            }
        }).catch(function () {
            // The server is away: the next wake-up (or reconnection) tries again.
        }).finally(function () {
            fetching = false;
            if (again) {
                schedule();
            }
        });
    }

    function schedule() {
        if (timer === null) {
            timer = window.setTimeout(refresh, DEBOUNCE_MS);
        }
    }

    function connect() {
        source = new EventSource(eventsUrl, {withCredentials: true});
        source.addEventListener('open', function () {
            // The stream has no cursor: what changed before it opened (since the page was made,
            // or while it reconnected) is fetched once now.
            schedule();
            document.documentElement.dataset.inboxLive = 'open';
        });
        source.addEventListener('changed', schedule);
        source.addEventListener('error', function () {
            document.documentElement.dataset.inboxLive = 'reconnecting';
            if (source.readyState === EventSource.CLOSED) {
                // Refused (not a stream: a login page, a 403 or a 429): try again later.
                source = null;
                window.setTimeout(connect, RETRY_MS);
            }
        });
    }

    window.addEventListener('pagehide', function () {
        if (source) {
            source.close(); // free the connection at once (browsers allow six per server)
            source = null;
        }
    });
    window.addEventListener('pageshow', function (event) {
        if (event.persisted && source === null) {
            connect(); // back from the browser's page cache: listen again, fetch what came
            schedule();
        }
    });
    connect();
}());
