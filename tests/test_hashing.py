"""chiron.utils.hashing: known answers, so a change to what is fed to a persisted digest fails here."""

from __future__ import annotations

import hashlib
import os
import random

from chiron.utils import hashing


def _write(path, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def test_small_and_empty_files_match_hashlib(tmp_path):
    small = _write(tmp_path / "small.txt", b"chiron\n")
    empty = _write(tmp_path / "empty.bin", b"")
    assert hashing.file_digest(small) == hashlib.sha256(b"chiron\n").hexdigest()
    assert hashing.file_digest(small, "md5") == hashlib.md5(b"chiron\n").hexdigest()
    # The empty file's SHA-256 is a published constant.
    assert hashing.file_digest(empty) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert hashing.file_sha256(small) == hashlib.sha256(b"chiron\n").hexdigest()


def test_a_file_of_many_blocks_streams_to_the_one_shot_digest(tmp_path):
    rng = random.Random(3)
    data = rng.randbytes(3 * hashing.BLOCK_BYTES + 1234)  # three whole blocks and a partial one
    path = _write(tmp_path / "big.bin", data)
    assert hashing.file_digest(path) == hashlib.sha256(data).hexdigest()
    # update_with_file continues an existing digest: the prefix and the file hash as one stream.
    digest = hashlib.sha256(b"prefix")
    assert hashing.update_with_file(digest, path) is digest
    assert digest.hexdigest() == hashlib.sha256(b"prefix" + data).hexdigest()


def test_file_sha256_reads_an_edited_file_again(tmp_path):
    path = _write(tmp_path / "f.txt", b"one")
    assert hashing.file_sha256(path) == hashlib.sha256(b"one").hexdigest()
    _write(path, b"three")  # another size, so another memo key even within one mtime tick
    assert hashing.file_sha256(path) == hashlib.sha256(b"three").hexdigest()


def test_folder_digest_is_names_then_bytes_of_matching_files_only(tmp_path):
    _write(tmp_path / "adapter_model.safetensors", b"weights")
    _write(tmp_path / "adapter_config.json", b"{}")
    expected = hashlib.sha256(b"adapter_config.json" + b"{}" + b"adapter_model.safetensors" + b"weights").hexdigest()
    assert hashing.folder_digest(str(tmp_path), prefix="adapter_") == expected
    # Files without the prefix are ignored.
    _write(tmp_path / "README.md", b"notes")
    _write(tmp_path / "training_args.bin", b"args")
    assert hashing.folder_digest(str(tmp_path), prefix="adapter_") == expected
    # A matching file's content counts.
    _write(tmp_path / "adapter_config.json", b'{"r": 8}')
    assert hashing.folder_digest(str(tmp_path), prefix="adapter_") != expected


def test_files_digest_marks_missing_files_and_follows_the_given_order(tmp_path):
    _write(tmp_path / "a.jsonl", b"A")
    os.mkdir(tmp_path / "sub")
    sha = {name: hashlib.sha256(data).hexdigest().encode() for name, data in (("a", b"A"), ("b", b"B"))}
    expected = hashlib.sha256(b"a.jsonl" + sha["a"] + b"b.jsonl-" + b"sub-").hexdigest()
    assert hashing.files_digest(str(tmp_path), ("a.jsonl", "b.jsonl", "sub")) == expected
    _write(tmp_path / "b.jsonl", b"B")
    with_b = hashing.files_digest(str(tmp_path), ("a.jsonl", "b.jsonl"))
    assert with_b == hashlib.sha256(b"a.jsonl" + sha["a"] + b"b.jsonl" + sha["b"]).hexdigest()
    assert hashing.files_digest(str(tmp_path), ("b.jsonl", "a.jsonl")) != with_b
