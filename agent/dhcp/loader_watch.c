#include "loader_watch.h"

#include <stdio.h>
#include <string.h>

void
loader_fetched(struct loader_watch *w, const uint8_t mac[6], const char *file, uint64_t now)
{
	struct loader_fetch *slot = &w->e[0];

	for (unsigned i = 0; i < LOADER_WATCH_MAX; i++) {
		if (w->e[i].at && !memcmp(w->e[i].mac, mac, 6)) {
			slot = &w->e[i];
			break;
		}
		if (w->e[i].at < slot->at) /* free (0) or the oldest */
			slot = &w->e[i];
	}
	memcpy(slot->mac, mac, 6);
	slot->at = now ? now : 1;
	snprintf(slot->file, sizeof(slot->file), "%s", file);
}

bool
loader_refused(struct loader_watch *w, const uint8_t mac[6], uint64_t now, char *out, size_t len)
{
	for (unsigned i = 0; i < LOADER_WATCH_MAX; i++) {
		struct loader_fetch *f = &w->e[i];
		if (!f->at || memcmp(f->mac, mac, 6))
			continue;
		bool soon = now >= f->at && now - f->at <= LOADER_REFUSED_WINDOW_MS;
		if (soon)
			snprintf(out, len, "%s", f->file);
		f->at = 0;
		return soon;
	}
	return false;
}

void
loader_forget(struct loader_watch *w, const uint8_t mac[6])
{
	for (unsigned i = 0; i < LOADER_WATCH_MAX; i++)
		if (w->e[i].at && !memcmp(w->e[i].mac, mac, 6))
			w->e[i].at = 0;
}
