# The seed's SerializeableObject as pydantic JobSettings with a nested pydantic model.
from typing import Optional

from pydantic import BaseModel

from brevettiai import JobSettings


class MyCustomObject(BaseModel):
    custom_param: Optional[int] = None


class SerializeableObject(JobSettings):
    param_1: float = -1.0
    param_2: str = "Param2 not provided"
    param_3: Optional[dict] = None
    custom: Optional[MyCustomObject] = None
