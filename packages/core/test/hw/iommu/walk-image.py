#!/usr/bin/env python3
"""An independent VT-d scalable-mode walker over a raw memory image (offset = physical address).

Written from the VT-d specification, not from the emulator's code: it checks that the emulated
IOMMU's tables are in the architectural format. Usage:

    walk-image.py IMAGE STATE_JSON < requests.json > results.json

requests: [{"rid": int, "pasid": int|null, "iova": int}]; results: [int phys | "fault"].
"""
import json
import struct
import sys


def main() -> None:
    image_path, state_path = sys.argv[1], sys.argv[2]
    state = json.load(open(state_path))
    assert state["translationTableMode"] == "scalable"
    root = int(state["rootTable"], 16)
    image = open(image_path, "rb")

    def q(addr: int) -> int:
        image.seek(addr)
        data = image.read(8)
        return struct.unpack("<Q", data.ljust(8, b"\0"))[0]

    def ptr(v: int) -> int:
        return v & 0x000F_FFFF_FFFF_F000

    def second_stage(table: int, addr: int):
        for level in (4, 3, 2, 1):
            shift = 12 + 9 * (level - 1)
            e = q(table + ((addr >> shift) & 511) * 8)
            if e & 3 == 0:
                return None
            if level == 1 or (level <= 3 and e & 0x80):
                size = 1 << shift
                return ptr(e) & ~(size - 1) | (addr & (size - 1))
            table = ptr(e)
        return None

    def first_stage(table: int, addr: int, ss):
        for level in (4, 3, 2, 1):
            if ss is not None:
                table = second_stage(ss, table)
                if table is None:
                    return None
            shift = 12 + 9 * (level - 1)
            e = q(table + ((addr >> shift) & 511) * 8)
            if e & 1 == 0:
                return None
            if level == 1 or (level <= 3 and e & 0x80):
                size = 1 << shift
                out = ptr(e) & ~(size - 1) | (addr & (size - 1))
                return out if ss is None else second_stage(ss, out)
            table = ptr(e)
        return None

    results = []
    for r in json.load(sys.stdin):
        rid, iova = r["rid"], r["iova"]
        bus, devfn = rid >> 8, rid & 0xFF
        re = q(root + bus * 16 + (8 if devfn >= 128 else 0))
        if re & 1 == 0:
            results.append("fault")
            continue
        ce = ptr(re) + (devfn & 0x7F) * 32
        c0, c1 = q(ce), q(ce + 8)
        if c0 & 1 == 0:
            results.append("fault")
            continue
        pasid = r["pasid"] if r["pasid"] is not None else c1 & 0xFFFFF
        de = q(ptr(c0) + (pasid >> 6) * 8)
        if de & 1 == 0:
            results.append("fault")
            continue
        pe = ptr(de) + (pasid & 63) * 64
        p0, p2 = q(pe), q(pe + 16)
        pgtt = (p0 >> 6) & 7
        if p0 & 1 == 0:
            out = None
        elif pgtt == 2:
            out = second_stage(ptr(p0), iova)
        elif pgtt == 1:
            out = first_stage(ptr(p2), iova, None)
        elif pgtt == 3:
            out = first_stage(ptr(p2), iova, ptr(p0))
        elif pgtt == 4:
            out = iova
        else:
            out = None
        results.append("fault" if out is None else out)
    json.dump(results, sys.stdout)


main()
