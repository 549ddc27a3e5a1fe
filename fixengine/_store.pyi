"""Types of the compiled file-store core (built from ext/_store.pyx)."""

from typing import Any

def set_fallback(cls: type) -> None: ...
def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int: ...

class FileStoreCore:
    _log_fd: int
    _seq_fd: int
    _held: list[bytes]
    _index: dict[int, tuple[int, int]]
    _end: int
    _held_at: int
    _alloc_end: int
    _sender: int
    _target: int
    _slot_counter: int
    _token: int
    _target_held: bool
    _map_files: bool
    _log_map: Any
    _slots: Any
    fsync_policy: Any
    def save_sent(self, seq: int, data: bytes) -> None: ...
    def set_next_target_seq(self, seq: int) -> None: ...
    def flush(self) -> None: ...
