"""CelebA and Waterbirds generators (largelr.datasets.celeba_waterbirds) on tiny files in the
official layouts, written here with PIL, and the worst-group accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from largelr.analyses.metrics import group_accuracies, worst_group_accuracy

from largelr.datasets import registry
from largelr.datasets.celeba_waterbirds import (
    generate_celeba,
    generate_waterbirds,
    load_image,
    read_celeba_attributes,
)
from largelr.datasets.format import CORE, load_dataset, save_dataset

CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose "
    "Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee "
    "Gray_Hair Heavy_Makeup High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard "
    "Oval_Face Pale_Skin Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair "
    "Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young"
).split()
BLOND, BLACK, MALE = (CELEBA_ATTRIBUTES.index(a) for a in ("Blond_Hair", "Black_Hair", "Male"))

# file, partition, Blond_Hair, Male (±1); each image has its own colour in its centre square
CELEBA_ROWS = [
    ("000001.png", 0, 1, -1),
    ("000002.png", 0, -1, -1),
    ("000003.png", 0, 1, 1),
    ("000004.png", 1, -1, 1),
    ("000005.png", 2, -1, 1),
    ("000006.png", 2, 1, -1),
]
BORDER = (255, 0, 0)  # top and bottom bands outside the centred square


def colour(i: int) -> tuple[int, int, int]:
    return (10 + 40 * i, 200 - 30 * i, 5 * i)


def portrait(centre: tuple[int, int, int], width: int = 8, height: int = 12) -> Image.Image:
    """A width×height image: red bands above and below a centred width×width square of ``centre``."""
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = BORDER
    top = (height - width) // 2
    pixels[top : top + width] = centre
    return Image.fromarray(pixels)


def write_celeba(root: Path, rows=CELEBA_ROWS) -> Path:
    """The torchvision CelebA layout: images, attribute table (±1, aligned columns), partition."""
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    lines = [str(len(rows)), " ".join(CELEBA_ATTRIBUTES) + " "]
    for i, (name, _, blond, male) in enumerate(rows):
        values = [1 if (i + k) % 3 == 0 else -1 for k in range(len(CELEBA_ATTRIBUTES))]
        values[BLOND], values[MALE], values[BLACK] = blond, male, -blond  # Black_Hair: the opposite
        lines.append(name + " " + " ".join(f"{v:2d}" for v in values))
        portrait(colour(i)).save(folder / "img_align_celeba" / name)
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("".join(f"{r[0]} {r[1]}\n" for r in rows))
    return folder


WATERBIRDS = "waterbird_complete95_forest2water2"


def write_waterbirds(root: Path, rows: list[tuple[int, int, int]], size=(6, 4), folder_name: str = WATERBIRDS) -> Path:
    """metadata.csv (img_id,img_filename,y,split,place,place_filename) + one image per row.

    ``rows`` holds (y, split, place); image i is split vertically: left half colour(i),
    right half white, so a whole-image resize keeps the halves.
    """
    folder = root / folder_name
    lines = ["img_id,img_filename,y,split,place,place_filename"]
    for i, (y, split, place) in enumerate(rows):
        species = "001.Black_footed_Albatross" if y else "010.Red_winged_Blackbird"
        name = f"{species}/{species.split('.')[1]}_{i:04d}.jpg"
        width, height = size
        pixels = np.full((height, width, 3), 255, dtype=np.uint8)
        pixels[:, : width // 2] = colour(i % 6)
        (folder / species).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / name, format="PNG")  # lossless content, real-style name
        place_file = "/o/ocean/00000001.jpg" if place else "/b/bamboo_forest/00000001.jpg"
        lines.append(f"{i + 1},{name},{y},{split},{place},{place_file}")
    (folder / "metadata.csv").write_text("\n".join(lines) + "\n")
    return folder


WATERBIRD_ROWS = [(1, 0, 1), (0, 0, 0), (1, 0, 0), (0, 1, 1), (0, 2, 1), (1, 2, 1), (0, 2, 0)]


# --------------------------------------------------------------------------- CelebA


def test_celeba_labels_partition_and_images(tmp_path):
    write_celeba(tmp_path)
    ds, files = generate_celeba(image_size=4, data_root=tmp_path, num_workers=2, return_provenance=True)
    assert ds.name == "celeba" and ds.num_classes == 2 and ds.input_shape == (3, 4, 4)
    # partition 0 → train, 2 → test, the val image (000004) in neither; file order kept
    assert files == {"train": ["000001.png", "000002.png", "000003.png"], "test": ["000005.png", "000006.png"]}
    # y = Blond_Hair, b = Male, −1 → 0 (Black_Hair, the opposite of blond, is not used)
    assert ds.train.y.tolist() == [1, 0, 1] and ds.train.b.tolist() == [0, 0, 1]
    assert ds.test.y.tolist() == [0, 1] and ds.test.b.tolist() == [1, 0]
    assert ds.train.y.dtype == np.int64
    # centre square crop, then resize: each image is its own uniform colour, no red band
    for part, indices in ((ds.train, [0, 1, 2]), (ds.test, [4, 5])):
        assert part.x.dtype == np.uint8 and part.x.shape[1:] == (3, 4, 4)
        for x, i in zip(part.x, indices):
            np.testing.assert_array_equal(x, np.broadcast_to(np.array(colour(i), np.uint8)[:, None, None], (3, 4, 4)))
        assert (part.region == CORE).all() and part.region.shape == (len(part), 4, 4)
    assert ds.meta["n_val_official"] == 1 and ds.meta["groups_train"] == {
        "y=0,b=0": 1, "y=0,b=1": 0, "y=1,b=0": 1, "y=1,b=1": 1}
    assert ds.meta["target_attribute"] == "Blond_Hair" and ds.meta["spurious_attribute"] == "Male"


def test_celeba_attributes_are_parameters(tmp_path):
    write_celeba(tmp_path)
    ds = generate_celeba(target_attribute="Male", spurious_attribute="Black_Hair", image_size=2, data_root=tmp_path)
    assert ds.train.y.tolist() == [0, 0, 1] and ds.train.b.tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match="Red_Hair"):
        generate_celeba(target_attribute="Red_Hair", data_root=tmp_path)


def test_celeba_without_crop_keeps_the_bands(tmp_path):
    write_celeba(tmp_path)
    ds = generate_celeba(image_size=6, center_crop=False, data_root=tmp_path)
    top_row = ds.train.x[0, :, 0]  # the red band (2 of 12 rows) reaches the top row after resize
    assert top_row[0].min() > 100 + colour(0)[0] // 2 and top_row[1].max() < colour(0)[1]


def test_celeba_attribute_table_parses_aligned_columns(tmp_path):
    folder = write_celeba(tmp_path)
    files, names, values = read_celeba_attributes(folder / "list_attr_celeba.txt")
    assert files[0] == "000001.png" and names == CELEBA_ATTRIBUTES
    assert values.shape == (6, 40) and set(np.unique(values)) == {-1, 1}


def test_celeba_bad_row_names_the_file(tmp_path):
    folder = write_celeba(tmp_path)
    path = folder / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(" ", 1)[0]  # one value short
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="row 5 has 39 values") as error:
        generate_celeba(data_root=tmp_path)
    assert str(path) in str(error.value)


def test_missing_celeba_folder_names_every_file(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        generate_celeba(data_root=tmp_path)
    message = str(error.value)
    folder = tmp_path / "celeba"
    for name in ("img_align_celeba", "list_attr_celeba.txt", "list_eval_partition.txt"):
        assert str(folder / name) in message
    assert "licence" in message and "not downloaded automatically" in message


def test_missing_celeba_image_names_that_image(tmp_path):
    folder = write_celeba(tmp_path)
    (folder / "img_align_celeba" / "000006.png").unlink()
    with pytest.raises(FileNotFoundError) as error:
        generate_celeba(image_size=2, data_root=tmp_path)
    message = str(error.value)
    assert str(folder / "img_align_celeba" / "000006.png") in message
    assert "000005.png" not in message


# --------------------------------------------------------------------------- Waterbirds


def test_waterbirds_labels_splits_and_squashed_images(tmp_path):
    folder = write_waterbirds(tmp_path, WATERBIRD_ROWS)
    ds, files = generate_waterbirds(image_size=4, data_root=tmp_path, return_provenance=True)
    assert ds.name == "waterbirds" and ds.num_classes == 2 and ds.input_shape == (3, 4, 4)
    assert ds.train.y.tolist() == [1, 0, 1] and ds.train.b.tolist() == [1, 0, 0]
    assert ds.test.y.tolist() == [0, 1, 0] and ds.test.b.tolist() == [1, 1, 0]
    assert len(files["train"]) == 3 and files["test"][0].startswith("010.Red_winged_Blackbird/")
    assert ds.meta["n_val_official"] == 1
    # the whole 6×4 image is resized: left half colour(i), right half white
    for x, i in zip(ds.test.x, [4, 5, 6]):
        np.testing.assert_array_equal(x[:, :, 0], np.broadcast_to(np.array(colour(i % 6), np.uint8)[:, None], (3, 4)))
        assert (x[:, :, 3] == 255).all()
    assert (ds.train.region == CORE).all()
    assert ds.test.bias_conflicting_ratio() == pytest.approx(1 / 3)  # a land bird on water
    assert folder.name in ds.meta["source"]


def test_waterbirds_subset_is_group_stratified_and_seeded(tmp_path):
    # train groups (y, place): 20 × (0,0), 10 × (1,1), 6 × (0,1), 4 × (1,0); test 4 × each
    rows = [(0, 0, 0)] * 20 + [(1, 0, 1)] * 10 + [(0, 0, 1)] * 6 + [(1, 0, 0)] * 4
    rows += [(y, 2, p) for y in (0, 1) for p in (0, 1) for _ in range(4)]
    write_waterbirds(tmp_path, rows, size=(2, 2))
    a, files_a = generate_waterbirds(image_size=2, subset_train=20, subset_test=8, seed=3,
                                     data_root=tmp_path, return_provenance=True)
    assert a.meta["groups_train"] == {"y=0,b=0": 10, "y=0,b=1": 3, "y=1,b=0": 2, "y=1,b=1": 5}
    assert a.meta["groups_test"] == {"y=0,b=0": 2, "y=0,b=1": 2, "y=1,b=0": 2, "y=1,b=1": 2}
    b, files_b = generate_waterbirds(image_size=2, subset_train=20, subset_test=8, seed=3,
                                     data_root=tmp_path, return_provenance=True)
    _, files_c = generate_waterbirds(image_size=2, subset_train=20, subset_test=8, seed=4,
                                     data_root=tmp_path, return_provenance=True)
    assert files_a == files_b and files_a["train"] != files_c["train"]
    np.testing.assert_array_equal(a.train.x, b.train.x)


def test_missing_waterbirds_metadata_names_both_layouts(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        generate_waterbirds(data_root=tmp_path)
    message = str(error.value)
    assert str(tmp_path / WATERBIRDS / "metadata.csv") in message
    assert str(tmp_path / "waterbirds_v1.0" / "metadata.csv") in message
    assert "torchvision does not provide it" in message and "WILDS" in message


def test_waterbirds_is_read_from_wilds_folder_too(tmp_path):
    folder = write_waterbirds(tmp_path / "wilds", WATERBIRD_ROWS, folder_name="waterbirds_v1.0")
    write_waterbirds(tmp_path / "original", WATERBIRD_ROWS)
    from_wilds, files = generate_waterbirds(image_size=4, data_root=tmp_path / "wilds", return_provenance=True)
    original = generate_waterbirds(image_size=4, data_root=tmp_path / "original")
    np.testing.assert_array_equal(from_wilds.test.x, original.test.x)
    assert from_wilds.train.y.tolist() == [1, 0, 1] and from_wilds.test.b.tolist() == [1, 1, 0]
    assert folder.name in from_wilds.meta["source"] and WATERBIRDS not in from_wilds.meta["source"]
    assert (folder / files["train"][0]).is_file()


def test_waterbirds_resize_then_centre_crop_as_group_dro(tmp_path):
    # 6×4 images, left half colour(i), right half white: resize to 8×8, keep the centred 4×4
    write_waterbirds(tmp_path, WATERBIRD_ROWS)
    ds = generate_waterbirds(image_size=4, resize=8, data_root=tmp_path)
    assert ds.meta["resize"] == 8 and ds.meta["image_size"] == 4 and "none" in ds.meta["normalisation"]
    for x, i in zip(ds.test.x, [4, 5, 6]):
        # the crop keeps columns 2..5 of the 8-px image: column 2 blends only coloured, column 5 only white pixels
        np.testing.assert_array_equal(x[:, :, 0], np.broadcast_to(np.array(colour(i % 6), np.uint8)[:, None], (3, 4)))
        assert (x[:, :, 3] == 255).all()
    with pytest.raises(ValueError, match="resize"):
        generate_waterbirds(image_size=4, resize=3, data_root=tmp_path)


def test_group_dro_preprocessing_at_224_px(tmp_path):
    """CelebA: centre 178 square of a 178×218 portrait resized to 224; Waterbirds: resize 256, centre 224."""
    from PIL import Image as PILImage

    rng = np.random.default_rng(0)
    portrait_pixels = rng.integers(0, 256, size=(218, 178, 3), dtype=np.uint8)
    PILImage.fromarray(portrait_pixels).save(tmp_path / "p.png")
    expected = PILImage.fromarray(portrait_pixels[20:198]).resize((224, 224), PILImage.BILINEAR)
    np.testing.assert_array_equal(load_image(tmp_path / "p.png", 224, center_crop=True).transpose(1, 2, 0),
                                  np.asarray(expected))
    bird = rng.integers(0, 256, size=(300, 500, 3), dtype=np.uint8)
    PILImage.fromarray(bird).save(tmp_path / "b.png")
    resized = np.asarray(PILImage.fromarray(bird).resize((256, 256), PILImage.BILINEAR))
    np.testing.assert_array_equal(load_image(tmp_path / "b.png", 224, center_crop=False, resize=256),
                                  resized[16:240, 16:240].transpose(2, 0, 1))
    # group DRO's eval transforms themselves (torchvision, before ToTensor / Normalize), odd sizes too
    import torchvision.transforms as T

    for name, shape, transform, kwargs in (
        ("odd_portrait.png", (219, 177, 3), T.Compose([T.CenterCrop(177), T.Resize((224, 224))]), {"center_crop": True}),
        ("odd_bird.png", (301, 499, 3), T.Compose([T.Resize((256, 256)), T.CenterCrop(224)]),
         {"center_crop": False, "resize": 256}),
    ):
        PILImage.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8)).save(tmp_path / name)
        expected = np.asarray(transform(PILImage.open(tmp_path / name).convert("RGB")))
        np.testing.assert_array_equal(load_image(tmp_path / name, 224, **kwargs).transpose(1, 2, 0), expected)


def test_missing_waterbirds_image_names_that_image(tmp_path):
    folder = write_waterbirds(tmp_path, WATERBIRD_ROWS)
    victim = next((folder / "001.Black_footed_Albatross").iterdir())
    victim.unlink()
    with pytest.raises(FileNotFoundError, match=victim.name) as error:
        generate_waterbirds(image_size=2, data_root=tmp_path)
    assert str(victim) in str(error.value)


def test_waterbirds_metadata_without_place_is_rejected(tmp_path):
    folder = write_waterbirds(tmp_path, WATERBIRD_ROWS)
    table = (folder / "metadata.csv").read_text().replace("place,place_filename", "background,place_filename")
    (folder / "metadata.csv").write_text(table)
    with pytest.raises(ValueError, match="place"):
        generate_waterbirds(data_root=tmp_path)


def test_natural_datasets_through_registry_and_file_round_trip(tmp_path):
    write_waterbirds(tmp_path / "data", WATERBIRD_ROWS)
    spec = {"generator": "waterbirds", "params": {"image_size": 3, "num_workers": 1}}
    registry.check_params("waterbirds", spec)
    with pytest.raises(ValueError, match="rho_train"):
        registry.check_params("celeba", {"generator": "celeba", "params": {"rho_train": 0.1}})
    ds = registry.build_dataset(spec, seed=0, data_root=str(tmp_path / "data"), download=True)  # download ignored
    save_dataset(ds, tmp_path / "wb.npz")
    back = load_dataset(tmp_path / "wb.npz")
    np.testing.assert_array_equal(back.test.x, ds.test.x)
    assert back.meta["groups_test"] == ds.meta["groups_test"] and back.meta["image_size"] == 3


def test_load_image_converts_grey_to_rgb(tmp_path):
    Image.fromarray(np.full((5, 7), 77, dtype=np.uint8), mode="L").save(tmp_path / "g.png")
    x = load_image(tmp_path / "g.png", 3, center_crop=True)
    assert x.shape == (3, 3, 3) and (x == 77).all()


# --------------------------------------------------------------------------- worst-group accuracy


def test_worst_group_accuracy_hand_computed():
    y = [0, 0, 0, 0, 1, 1, 1, 0]
    b = [0, 0, 1, 1, 1, 1, 0, 0]
    p = [0, 1, 0, 0, 1, 0, 0, 0]
    # groups: (0,0): idx 0,1,7 → 2/3; (0,1): idx 2,3 → 1; (1,1): idx 4,5 → 1/2; (1,0): idx 6 → 0
    assert group_accuracies(p, y, b) == {(0, 0): pytest.approx(2 / 3), (0, 1): 1.0, (1, 0): 0.0, (1, 1): 0.5}
    assert worst_group_accuracy(p, y, b) == 0.0
    p[6] = 1
    assert worst_group_accuracy(torch.tensor(p), torch.tensor(y), np.array(b)) == 0.5


def test_worst_group_accuracy_edge_cases():
    assert np.isnan(worst_group_accuracy([], [], []))
    assert worst_group_accuracy([1, 1], [1, 1], [0, 0]) == 1.0  # only the groups present count
    with pytest.raises(ValueError, match="lengths"):
        worst_group_accuracy([0], [0, 1], [0, 1])
