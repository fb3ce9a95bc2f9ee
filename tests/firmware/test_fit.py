"""RAM and flash against the board: fits, tight (above the margin), does not fit."""

from __future__ import annotations

import pytest

from dlink.firmware.fit import ModelDoesNotFitError, check_fit, describe_fit, memory_fit

KIB = 1024


def test_fits_with_margin():
    fit = memory_fit("nrf52840", ram_bytes=60_000, flash_bytes=45_000)
    assert fit["status"] == "fits" and fit["messages"] == [] and check_fit(fit) == []
    assert fit["ram_percent"] == round(100 * 60_000 / (256 * KIB), 1)
    assert describe_fit(fit) == ("RAM 60,000 B of 256 KiB (22.9%), flash 45,000 B of 1,024 KiB (4.3%): "
                                 "fits")


def test_the_issue_s_94_percent_of_ram_is_tight():
    # the 64-channel student on the nRF52840 used 94.4% of its RAM without a word
    fit = memory_fit("nrf52840", ram_bytes=int(0.944 * 256 * KIB), flash_bytes=100_000)
    assert fit["status"] == "tight"
    assert check_fit(fit) == [f"the app uses 94.4% of nrf52840's RAM (256 KiB on-chip RAM) "
                              f"({int(0.944 * 256 * KIB):,} B, above the 90% margin of "
                              "firmware.memory_warn_percent)"]
    assert memory_fit("nrf52840", ram_bytes=int(0.944 * 256 * KIB), flash_bytes=1,
                      warn_percent=95)["status"] == "fits"


def test_does_not_fit_names_the_region_and_the_excess():
    # TFLite-Micro's 446,080-B arena of the 64-channel student, on a 256-KiB board
    fit = memory_fit("nrf52840", ram_bytes=446_080 + 16 * KIB, flash_bytes=2 * 1024 * KIB,
                     what="TFLite-Micro's interpreter")
    assert fit["status"] == "does not fit" and len(fit["messages"]) == 2
    with pytest.raises(ModelDoesNotFitError, match=r"TFLite-Micro's interpreter needs 462,464 B of "
                                                   r"nrf52840's RAM \(256 KiB on-chip RAM\): 200,320 B "
                                                   r"too many.*flash.*Use a smaller student"):
        check_fit(fit, fix="Use a smaller student.")
