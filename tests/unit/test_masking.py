"""Secrets are masked in every shape a message can carry them (issue 12, class 8)."""

from __future__ import annotations

import socket

import pytest

from headwater.errors import WarehouseRefused, WarehouseUnreachable
from headwater.urls import mask_secrets, mask_url
from headwater.warehouse import open_warehouse


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgresql://u:pl@ntedPw9@h:5432/db", "pl@ntedPw9"),
        (
            "IO Error: Unable to connect to Postgres at host=h user=u password=pl@ntedPw9 dbname=x",
            "pl@ntedPw9",
        ),
        ("Unable to connect at \"user=u password='pl@nted Pw9' dbname=x\"", "pl@nted Pw9"),
        ('{"password": "pl@nted Pw9", "host": "h"}', "pl@nted Pw9"),
        ("https://api.example/v1?token=pl@ntedPw9&page=2", "pl@ntedPw9"),
        ("s3 error: X-Amz-Signature=pl@ntedPw9", "pl@ntedPw9"),
    ],
)
def test_every_shape_of_a_secret_is_masked(text, secret):
    masked = mask_url(text)
    assert "Pw9" not in masked and "***" in masked, masked
    assert secret not in masked


def test_a_password_in_any_encoding_is_masked_given_its_url():
    url = "postgresql://u:pl%40nted%23Pw@h/db"
    assert mask_secrets("driver said: pl@nted#Pw; and pl%40nted%23Pw", url) == "driver said: ***; and ***"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_warehouse_is_retryable_and_its_password_masked():
    url = f"postgresql://postgres:pl%40nted%23Pw@127.0.0.1:{_closed_port()}/db"
    with pytest.raises(WarehouseUnreachable) as caught:
        open_warehouse(url).watermarks("p")
    message = str(caught.value)
    assert "pl@nted#Pw" not in message and "pl%40nted%23Pw" not in message, message
    assert "cannot open the warehouse" in message and "***" in message


def test_a_missing_warehouse_database_is_terminal_and_masked(pg_server):
    base = pg_server.rsplit("/", 1)[0].replace("postgres@", "postgres:pl%40nted%23Pw@")
    with pytest.raises(WarehouseRefused) as caught:
        open_warehouse(f"{base}/hw_no_such_db_{_closed_port()}").watermarks("p")
    message = str(caught.value)
    assert "pl@nted#Pw" not in message and "does not exist" in message, message
