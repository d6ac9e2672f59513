"""PASCAL-Part vocabulary: the VOC classes, their fine part names, the default coarse grouping.

Fine names follow the PASCAL-Part toolkit's ``part2ind.m`` (Chen et al., CVPR 2014). Numbered
instances (``wheel_1``, ``door_3``) are always reduced to their base name (``wheel``) first.
"""

from __future__ import annotations

import re

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)

_CAT = ("head leye reye lear rear nose torso neck lfleg lfpa rfleg rfpa lbleg lbpa rbleg rbpa "
        "tail")
_COW = ("head leye reye lear rear muzzle lhorn rhorn torso neck lfuleg lflleg rfuleg rflleg "
        "lbuleg lblleg rbuleg rblleg tail")
_HORSE = _COW.replace("lhorn rhorn ", "") + " lfho rfho lbho rbho"
_VEHICLE = ("frontside leftside rightside backside roofside leftmirror rightmirror fliplate "
            "bliplate door wheel headlight window")

#: class -> fine part names (numbered instances reduced to their base name)
FINE_PARTS: dict[str, tuple[str, ...]] = {cls: tuple(names.split()) for cls, names in {
    "aeroplane": "body stern lwing rwing tail engine wheel",
    "bicycle": "fwheel bwheel saddle handlebar chainwheel headlight",
    "bird": "head leye reye beak torso neck lwing rwing lleg lfoot rleg rfoot tail",
    "boat": "",
    "bottle": "cap body",
    "bus": _VEHICLE,
    "car": _VEHICLE,
    "cat": _CAT,
    "chair": "",
    "cow": _COW,
    "diningtable": "",
    "dog": _CAT + " muzzle",
    "horse": _HORSE,
    "motorbike": "fwheel bwheel handlebar saddle headlight",
    "person": ("head leye reye lear rear lebrow rebrow nose mouth hair torso neck llarm luarm "
               "lhand rlarm ruarm rhand llleg luleg lfoot rlleg ruleg rfoot"),
    "pottedplant": "pot plant",
    "sheep": _COW,
    "sofa": "",
    "train": ("head hfrontside hleftside hrightside hbackside hroofside headlight coach "
              "cfrontside cleftside crightside cbackside croofside"),
    "tvmonitor": "screen",
}.items()}

#: coarse part -> the fine parts it merges (left/right, front/back, upper/lower, instances)
DEFAULT_GROUPING: dict[str, tuple[str, ...]] = {
    "head": ("head", "hfrontside", "hleftside", "hrightside", "hbackside", "hroofside"),
    "eye": ("leye", "reye"),
    "ear": ("lear", "rear"),
    "eyebrow": ("lebrow", "rebrow"),
    "nose": ("nose",),
    "mouth": ("mouth",),
    "hair": ("hair",),
    "muzzle": ("muzzle",),
    "beak": ("beak",),
    "horn": ("lhorn", "rhorn"),
    "neck": ("neck",),
    "torso": ("torso",),
    "arm": ("llarm", "luarm", "rlarm", "ruarm"),
    "hand": ("lhand", "rhand"),
    "wing": ("lwing", "rwing"),
    "leg": ("lfleg", "rfleg", "lbleg", "rbleg", "lfuleg", "lflleg", "rfuleg", "rflleg",
            "lbuleg", "lblleg", "rbuleg", "rblleg", "llleg", "luleg", "rlleg", "ruleg",
            "lleg", "rleg"),
    "paw": ("lfpa", "rfpa", "lbpa", "rbpa"),
    "hoof": ("lfho", "rfho", "lbho", "rbho"),
    "foot": ("lfoot", "rfoot"),
    "tail": ("tail",),
    "body": ("body", "frontside", "leftside", "rightside", "backside", "roofside"),
    "stern": ("stern",),
    "engine": ("engine",),
    "wheel": ("wheel", "fwheel", "bwheel"),
    "chainwheel": ("chainwheel",),
    "saddle": ("saddle",),
    "handlebar": ("handlebar",),
    "headlight": ("headlight",),
    "mirror": ("leftmirror", "rightmirror"),
    "license_plate": ("fliplate", "bliplate"),
    "door": ("door",),
    "window": ("window",),
    "coach": ("coach", "cfrontside", "cleftside", "crightside", "cbackside", "croofside"),
    "cap": ("cap",),
    "pot": ("pot",),
    "plant": ("plant",),
    "screen": ("screen",),
}

_INSTANCE = re.compile(r"_\d+$")


def base_part_name(name: str) -> str:
    """``wheel_2`` -> ``wheel``; other names unchanged."""
    return _INSTANCE.sub("", name.strip())


def identity_grouping(classes: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """Every fine part of ``classes`` as its own coarse part (the ``grouping: none`` option)."""
    names = dict.fromkeys(p for c in classes for p in FINE_PARTS.get(c, ()))
    return {name: (name,) for name in names}
