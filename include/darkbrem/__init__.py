"""LDMX dark-brem signal campaign: library generation, extraction and simulation per (mass, run).

See the spec ``ldmx-darkbrem.md``. Modules:

* :mod:`~include.darkbrem.lhe` streams the dark-brem events of LHE files;
* :mod:`~include.darkbrem.extract` is the native ``g4db-extract-library`` (LHE directory -> CSV);
* :mod:`~include.darkbrem.library` knows the generator versions, targets, energy grid and names;
* :mod:`~include.darkbrem.commands` builds the container command lines (dbgen, extraction, fire);
* :mod:`~include.darkbrem.campaign` validates the campaign parameters and plans the units;
* :mod:`~include.darkbrem.chain` runs generate -> extract -> simulate for one (mass, run).
"""

PRODUCTION = "ldmx_darkbrem_signal"
