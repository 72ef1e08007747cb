"""LHC luminosity follow-up: per-fill analysis of Run-2 proton fills (see specs/lumi-followup.md)."""

PRODUCTION = "lumi_followup"
