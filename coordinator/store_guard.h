/* The coordinator's store is a replica of its Raft log, opened unsynced
 * (store_open_unsynced): a process crash loses nothing (the page cache
 * holds every commit), but a system crash may leave it torn. A marker
 * beside it, DATA_DIR/store.state ("BOOT_ID open|clean"), tells the two
 * apart at start-up: open under another boot means the system went down
 * with the store open, so the store is moved aside and rebuilt from the
 * Raft snapshot and log, which libraft keeps durable. */
#pragma once

/* Before opening the store. Returns 0, 1 when the store was moved aside
 * (to be rebuilt), or -errno. */
int store_guard_begin(const char *data_dir);
/* After the store is closed (synced). */
void store_guard_end(const char *data_dir);
