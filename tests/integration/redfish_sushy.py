#!/usr/bin/python3
"""python3-sushy (OpenStack Ironic's Redfish library, Debian's package)
against the lab's Redfish emulator: in a session and with Basic, find the
one system, set a one-time PXE override in UEFI mode and read it back, list
the allowable resets, reset. Exits non-zero (a traceback) on any
disagreement.

usage: redfish_sushy.py ROOT_URL USER PASSWORD_FILE"""
import sys

import sushy
from sushy import auth

url, user = sys.argv[1], sys.argv[2]
with open(sys.argv[3]) as f:
    pw = f.readline().rstrip("\n")
for a in (auth.SessionAuth(user, pw), auth.BasicAuth(user, pw)):
    root = sushy.Sushy(url, auth=a)
    s = root.get_system()  # the one system, found in the collection
    s.set_system_boot_options(sushy.BOOT_SOURCE_TARGET_PXE,
                              enabled=sushy.BOOT_SOURCE_ENABLED_ONCE,
                              mode=sushy.BOOT_SOURCE_MODE_UEFI)
    s.refresh()
    assert s.boot.target == sushy.BOOT_SOURCE_TARGET_PXE, s.boot.target
    assert s.boot.enabled == sushy.BOOT_SOURCE_ENABLED_ONCE, s.boot.enabled
    assert s.boot.mode == sushy.BOOT_SOURCE_MODE_UEFI, s.boot.mode
    allowed = s.get_allowed_reset_system_values()
    assert sushy.RESET_FORCE_RESTART in allowed and sushy.RESET_ON in allowed, allowed
    s.reset_system(sushy.RESET_ON if s.power_state == sushy.POWER_STATE_OFF
                   else sushy.RESET_FORCE_RESTART)
    s.refresh()
    assert s.power_state == sushy.POWER_STATE_ON, s.power_state
    print("sushy", type(a).__name__, s.identity, s.boot.target, s.power_state)
