"""Tests of detente.group; a package so its module names cannot clash with other folders."""
