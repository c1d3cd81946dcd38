"""The on-disk media cache, and log-mel features computed in the DataLoader workers."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from mmlearn.data.cache import MediaCache
from mmlearn.data.processors import AudioProcessor, ImageProcessor
from mmlearn.errors import MediaDecodeError
from tests.helpers import write_png, write_tone
from tests.test_datamodule import make_data


def entries(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.npy"))


def test_cached_media_equal_decoded_media(tmp_path: Path, media_dir: Path):
    cache = MediaCache(tmp_path / "cache")
    for cached, plain, name in [
        (ImageProcessor(16, cache=cache), ImageProcessor(16), "red.png"),
        (AudioProcessor(16000, 1.0, cache=cache), AudioProcessor(16000, 1.0), "high.wav"),
    ]:
        expected = plain(media_dir / name)
        first = cached(media_dir / name)  # decodes and stores
        second = cached(media_dir / name)  # reads the entry
        assert torch.equal(first, expected)
        assert torch.equal(second, expected)
    assert (cache.misses, cache.hits) == (2, 2)
    assert len(entries(tmp_path / "cache")) == 2


def test_image_entry_is_shrunk_to_twice_the_size(tmp_path: Path):
    path = write_png(tmp_path / "wide.png", (10, 200, 10), size=300)
    cache = MediaCache(tmp_path / "cache")
    ImageProcessor(32, cache=cache)(path)
    (entry,) = entries(tmp_path / "cache")
    stored = np.load(entry)
    assert stored.dtype == np.uint8
    assert stored.shape == (3, 64, 64)
    assert tuple(stored[:, 5, 5]) == (10, 200, 10)


def test_edited_file_or_new_settings_make_new_entries(tmp_path: Path):
    path = write_png(tmp_path / "a.png", (255, 0, 0))
    cache = MediaCache(tmp_path / "cache")
    red = ImageProcessor(8, cache=cache)(path)
    ImageProcessor(12, cache=cache)(path)  # another size, another entry
    write_png(path, (0, 0, 255))  # same name, new content
    blue = ImageProcessor(8, cache=cache)(path)
    assert cache.misses == 3
    assert cache.hits == 0
    assert len(entries(tmp_path / "cache")) == 3
    # Red and blue swap places in channels 0 and 2.
    assert red[0, 0, 0] > red[2, 0, 0]
    assert blue[2, 0, 0] > blue[0, 0, 0]


def test_unreadable_entry_is_replaced(tmp_path: Path, caplog):
    path = write_tone(tmp_path / "tone.wav", seconds=0.3, rate=16000)
    cache = MediaCache(tmp_path / "cache")
    audio = AudioProcessor(16000, 1.0, cache=cache)
    expected = audio(path)
    (entry,) = entries(tmp_path / "cache")
    entry.write_bytes(b"\x93NUMPY truncated")
    with caplog.at_level(logging.WARNING, logger="mmlearn.data.cache"):
        assert torch.equal(audio(path), expected)
    assert "Replacing unreadable cache entry" in caplog.text
    assert cache.misses == 2
    assert torch.equal(torch.from_numpy(np.load(entry)), expected)


def test_missing_or_broken_source_names_the_file(tmp_path: Path):
    cache = MediaCache(tmp_path / "cache")
    with pytest.raises(MediaDecodeError, match=r"gone\.png.*file not found"):
        ImageProcessor(8, cache=cache)(tmp_path / "gone.png")
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(MediaDecodeError, match=r"broken\.wav"):
        AudioProcessor(cache=cache)(broken)
    # Failures are not cached: nothing was stored.
    assert entries(tmp_path / "cache") == []


def test_second_run_reads_every_file_from_the_cache(tmp_path: Path, make_manifest):
    manifest = str(make_manifest(per_split=4))
    cache_dir = str(tmp_path / "cache")
    first = make_data(manifest=manifest, cache_dir=cache_dir, num_workers=2)
    first.setup("fit")
    batches = [first.on_after_batch_transfer(b, 0) for b in first.val_dataloader()]
    # Two pictures and two tones, however many rows use them.
    assert len(entries(tmp_path / "cache")) == 4

    second = make_data(manifest=manifest, cache_dir=cache_dir)
    second.setup("fit")
    again = [second.on_after_batch_transfer(b, 0) for b in second.val_dataloader()]
    assert second.cache.misses == 0
    # 4 images and 3 clips (every fourth row has no audio).
    assert second.cache.hits == 7
    for old, new in zip(batches, again, strict=True):
        assert torch.equal(old["image"]["pixels"], new["image"]["pixels"])
        assert torch.equal(old["audio"]["features"], new["audio"]["features"])


@pytest.mark.parametrize("workers", [0, 2])
def test_worker_features_equal_device_features(make_manifest, workers: int):
    manifest = str(make_manifest(per_split=4))
    device = make_data(manifest=manifest)
    worker = make_data(manifest=manifest, audio_features="worker", num_workers=workers)
    for data in (device, worker):
        data.setup("fit")
    on_device = device.on_after_batch_transfer(next(iter(device.val_dataloader())), 0)
    from_worker = next(iter(worker.val_dataloader()))
    # The features are already in the batch before the transfer hook runs.
    features = from_worker["audio"]["features"]
    assert features.dtype == torch.float32
    torch.testing.assert_close(features, on_device["audio"]["features"])
    assert torch.equal(from_worker["audio"]["frame_lengths"], on_device["audio"]["frame_lengths"])
    after = worker.on_after_batch_transfer(from_worker, 0)
    assert after["audio"]["features"] is features


def test_loader_settings_from_config(make_manifest):
    manifest = str(make_manifest(per_split=4))
    data = make_data(manifest=manifest, num_workers=2, prefetch_factor=3)
    data.setup("fit")
    loader = data.train_dataloader()
    assert (loader.num_workers, loader.prefetch_factor) == (2, 3)
    assert loader.persistent_workers
    # No trainer on CUDA, so pinning stays off unless asked for.
    assert not loader.pin_memory
    pinned = make_data(manifest=manifest, pin_memory=True)
    pinned.setup("fit")
    assert pinned.val_dataloader().pin_memory
