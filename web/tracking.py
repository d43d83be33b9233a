"""Placeholder so web.app can include this router; its owner fills it in."""

from fastapi import APIRouter

router = APIRouter()
